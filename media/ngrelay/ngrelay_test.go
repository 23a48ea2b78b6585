package ngrelay

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestBencodeRoundTrip(t *testing.T) {
	in := map[string]any{"command": "offer", "sdp": "v=0\r\n", "n": int64(-42), "flags": []any{"a", int64(1), map[string]any{}}}
	b, err := encode(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	if want := "d7:command5:offer5:flagsl1:ai1edee1:ni-42e3:sdp5:v=0\r\ne"; string(b) != want {
		t.Fatalf("encoded %q, want %q (keys sorted)", b, want)
	}
	out, err := decodeDict(b)
	if err != nil {
		t.Fatal(err)
	}
	if out["command"] != "offer" || out["n"] != int64(-42) || len(out["flags"].([]any)) != 3 {
		t.Fatalf("decoded %#v", out)
	}
	if _, err := encode(nil, 1.5); err == nil {
		t.Error("a float was bencoded")
	}
}

func TestBencodeRejectsMalformed(t *testing.T) {
	deep := strings.Repeat("l", maxDepth+2) + strings.Repeat("e", maxDepth+2)
	for _, s := range []string{"", "d", "d3:abc", "di1ei2ee", "5:abc", "ixe", "le", "d1:ai1eextra", "x", "d1:a-1:e", deep} {
		if _, err := decodeDict([]byte(s)); err == nil {
			t.Errorf("decodeDict(%q) accepted", s)
		}
	}
}

func TestSDPAudioAddrAndRewrite(t *testing.T) {
	sdp := "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\nc=IN IP4 10.0.0.2\r\na=rtpmap:0 PCMU/8000\r\nm=video 5000 RTP/AVP 96\r\nc=IN IP4 10.0.0.3\r\n"
	a, err := SDPAudioAddr(sdp)
	if err != nil {
		t.Fatal(err)
	}
	if a != netip.MustParseAddrPort("10.0.0.2:4000") {
		t.Fatalf("audio at %v, want the media-level c= and m= port", a)
	}
	out := rewriteSDP(sdp, netip.MustParseAddrPort("127.0.0.1:30000"))
	if b, err := SDPAudioAddr(out); err != nil || b != netip.MustParseAddrPort("127.0.0.1:30000") {
		t.Fatalf("rewritten SDP's audio at %v (%v)\n%s", b, err, out)
	}
	if !strings.Contains(out, "m=video 5000") || !strings.Contains(out, "a=rtpmap:0 PCMU/8000\r\n") {
		t.Fatalf("rewrite touched more than the address and audio port:\n%s", out)
	}
	if a, err := SDPAudioAddr(AudioSDP(netip.MustParseAddrPort("127.0.0.1:7000"), 1)); err != nil || a.Port() != 7000 {
		t.Fatalf("AudioSDP parsed back as %v (%v)", a, err)
	}
	for _, bad := range []string{"v=0\r\n", "m=audio x RTP/AVP 0\r\nc=IN IP4 1.2.3.4\r\n", "m=audio 4000 RTP/AVP 0\r\n", "c=IN IP4 nope\r\nm=audio 4000 RTP/AVP 0\r\n"} {
		if _, err := SDPAudioAddr(bad); err == nil {
			t.Errorf("SDPAudioAddr(%q) accepted", bad)
		}
	}
}

// TestServerRelaysACall sets a call up over real ng datagrams in each
// mode, sends RTP both ways through it and deletes it; bad commands get
// error replies and change nothing.
func TestServerRelaysACall(t *testing.T) {
	for _, mode := range []Mode{ModeRelay, ModeRelayGoroutines, ModeRelayShared, ModePlain} {
		t.Run(string(mode), func(t *testing.T) {
			srv, err := NewServer(mode, netip.MustParseAddr("127.0.0.1"))
			if err != nil {
				t.Fatal(err)
			}
			conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(conn) }()
			defer func() {
				conn.Close()
				if err := <-served; err != nil {
					t.Errorf("Serve: %v", err)
				}
				if err := srv.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			c, err := Dial(conn.LocalAddr().(*net.UDPAddr).AddrPort())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := c.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			for _, bad := range []map[string]any{
				{"command": "offer", "call-id": "x"}, // no SDP
				{"command": "answer", "call-id": "nope", "sdp": AudioSDP(netip.MustParseAddrPort("127.0.0.1:9"), 1)}, // unknown call
				{"command": "offer", "sdp": "v=0\r\n"}, // no call-id
				{"command": "reboot", "call-id": "x"},
				{"command": "delete", "call-id": "nope"},
			} {
				if _, err := c.Do(ctx, bad); err == nil {
					t.Errorf("%v accepted", bad)
				}
			}
			if srv.Calls() != 0 {
				t.Fatalf("%d calls after bad commands", srv.Calls())
			}
			if reply := srv.Handle([]byte("7 garbage")); !strings.Contains(string(reply), "error") {
				t.Errorf("malformed bencode answered %q", reply)
			}
			if reply := srv.Handle([]byte("nocookie")); reply != nil {
				t.Errorf("a datagram without a cookie was answered: %q", reply)
			}

			caller, callee := listen(t), listen(t)
			forCallee, err := c.Offer(ctx, "call-1", "a", AudioSDP(addrPort(caller), 1))
			if err != nil {
				t.Fatal(err)
			}
			forCaller, err := c.Answer(ctx, "call-1", "a", "b", AudioSDP(addrPort(callee), 1))
			if err != nil {
				t.Fatal(err)
			}
			toB, err1 := SDPAudioAddr(forCallee)
			toA, err2 := SDPAudioAddr(forCaller)
			// On the shared port both parties send to the one address.
			if err1 != nil || err2 != nil || (toA == toB) != (mode == ModeRelayShared) || toA == addrPort(caller) {
				t.Fatalf("relay addresses %v (%v), %v (%v)", toA, err1, toB, err2)
			}
			if mode == ModeRelayShared {
				// The source address is what tells calls apart: a second
				// call cannot claim the caller's.
				if _, err := c.Offer(ctx, "call-2", "a", AudioSDP(addrPort(caller), 1)); err == nil || !strings.Contains(err.Error(), "in use") {
					t.Fatalf("a second call offered the first call's address: %v", err)
				}
				if n := srv.Calls(); n != 1 {
					t.Fatalf("%d calls after a refused offer, want 1", n)
				}
			}
			pkt := []byte{0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9, 'h', 'i'}
			roundTrip(t, caller, toA, callee, pkt)
			roundTrip(t, callee, toB, caller, pkt)
			if err := c.Delete(ctx, "call-1", "a"); err != nil {
				t.Fatal(err)
			}
			if srv.Calls() != 0 {
				t.Fatalf("%d calls after delete", srv.Calls())
			}
		})
	}
}

func listen(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func addrPort(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// roundTrip sends pkt from one party to the relay and waits for the
// other party to get an RTP packet with the same payload.
func roundTrip(t *testing.T, from *net.UDPConn, via netip.AddrPort, to *net.UDPConn, pkt []byte) {
	t.Helper()
	if _, err := from.WriteToUDPAddrPort(pkt, via); err != nil {
		t.Fatal(err)
	}
	_ = to.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1500)
	n, _, err := to.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("waiting for the relayed packet at %v: %v", addrPort(to), err)
	}
	if string(buf[12:n]) != string(pkt[12:]) {
		t.Fatalf("relayed payload %q, want %q", buf[12:n], pkt[12:])
	}
}
