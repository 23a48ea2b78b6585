package pool

import (
	"net"
	"strings"
	"testing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/parkway/parkway/sip/sipnet"
)

// TestProxyOverTCP: a phone that registers a ;transport=tcp contact gets its requests
// over TCP, even when the caller used UDP (RFC 3263 §4.1: the URI's transport wins).
func TestProxyOverTCP(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	ctx := testCtx(t)

	// bob's phone: TCP only.
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("bob"), sipgo.WithUserAgentHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := sipgo.NewServer(ua)
	got := make(chan *sip.Request, 1)
	srv.OnMessage(func(req *sip.Request, tx sip.ServerTransaction) {
		tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		got <- req
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTCP(l)
	t.Cleanup(func() { l.Close(); ua.Close() })
	bobAddr := l.Addr().String()

	// Register that contact (the REGISTER itself travels over UDP).
	reg := newRawUA(t)
	req := registerReq(p, "bob", "<sip:bob@"+bobAddr+";transport=tcp>", 300)
	if res := reg.doAuth(t, req, "bob", "bob-pw"); res.StatusCode != 200 {
		t.Fatalf("register over TCP = %d", res.StatusCode)
	}

	u := newRawUA(t)
	host, port, _ := sip.ParseAddr(p.Addr())
	msg := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", User: "bob", Host: host, Port: port})
	msg.SetBody([]byte("via tcp"))
	res, err := u.client.Do(ctx, msg)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("MESSAGE = %v %v, want 200", res, err)
	}
	select {
	case r := <-got:
		if r.Transport() != "TCP" || string(r.Body()) != "via tcp" {
			t.Fatalf("bob got %q over %s", r.Body(), r.Transport())
		}
	case <-ctx.Done():
		t.Fatal("bob never got the MESSAGE")
	}
}

// TestLargeRequestOverTCP: a request over 1300 bytes is forwarded over TCP even to a
// contact registered without ;transport=tcp (RFC 3261 §18.1.1), since sipgo cannot send
// it over UDP at all; a small one still goes over UDP. A phone with no TCP listener
// cannot be given the large request, and the caller hears 503.
func TestLargeRequestOverTCP(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	ctx := testCtx(t)

	// bob's phone listens on UDP and TCP at one port and registers a plain contact.
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("bob"), sipgo.WithUserAgentHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := sipgo.NewServer(ua)
	got := make(chan *sip.Request, 2)
	srv.OnMessage(func(req *sip.Request, tx sip.ServerTransaction) {
		tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		got <- req
	})
	udp, tcp, err := sipnet.ListenBoth(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeUDP(udp)
	go srv.ServeTCP(tcp)
	t.Cleanup(func() { udp.Close(); tcp.Close(); ua.Close() })
	reg := newRawUA(t)
	if res := reg.doAuth(t, registerReq(p, "bob", "<sip:bob@"+udp.LocalAddr().String()+">", 300), "bob", "bob-pw"); res.StatusCode != 200 {
		t.Fatalf("register bob = %d", res.StatusCode)
	}
	// carol's phone: UDP only.
	carol := newRawUA(t)
	if res := reg.doAuth(t, registerReq(p, "carol", "<sip:carol@"+carol.addr+">", 300), "carol", "carol-pw"); res.StatusCode != 200 {
		t.Fatalf("register carol = %d", res.StatusCode)
	}

	// The MESSAGEs reach the pool over TCP: sipgo cannot send the large one over UDP.
	send := func(user string, size int) *sip.Response {
		t.Helper()
		host, port, _ := sip.ParseAddr(p.Addr())
		req := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", User: user, Host: host, Port: port})
		req.AppendHeader(sip.NewHeader("Content-Type", "text/plain"))
		req.SetBody([]byte(strings.Repeat("x", size)))
		req.SetTransport("TCP")
		res, err := reg.client.Do(ctx, req)
		if err != nil {
			t.Fatalf("MESSAGE of %d bytes to %s: %v", size, user, err)
		}
		return res
	}
	for _, c := range []struct {
		size int
		over string
	}{{100, "UDP"}, {2000, "TCP"}} {
		if res := send("bob", c.size); res.StatusCode != 200 {
			t.Fatalf("MESSAGE of %d bytes = %d, want 200", c.size, res.StatusCode)
		}
		select {
		case r := <-got:
			if r.Transport() != c.over || len(r.Body()) != c.size {
				t.Errorf("bob got %d bytes over %s, want %d over %s", len(r.Body()), r.Transport(), c.size, c.over)
			}
		case <-ctx.Done():
			t.Fatalf("bob never got the %d-byte MESSAGE", c.size)
		}
	}
	if res := send("carol", 2000); res.StatusCode != 503 {
		t.Errorf("large MESSAGE to a UDP-only phone = %d, want 503", res.StatusCode)
	}
}
