package audiosdp

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/parkway/parkway/media/g711"
)

func TestBuildParse(t *testing.T) {
	addr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	d, err := Parse(Build(addr, 7, 8, 0))
	if err != nil {
		t.Fatal(err)
	}
	if d.Addr.String() != "127.0.0.1:40000" || d.UDPAddr().String() != "127.0.0.1:40000" || d.Codec() != 8 || len(d.Payloads) != 2 || d.Dir != SendRecv {
		t.Errorf("got %+v", d)
	}
}

func TestLocalRoundTrip(t *testing.T) {
	l := Local{Addr: netip.MustParseAddrPort("127.0.0.1:40000"), SessionID: 7, Version: 3,
		Payloads: []uint8{g711.PayloadPCMU, g711.PayloadPCMA}, Events: 101, Dir: SendOnly}
	body := l.Marshal()
	for _, want := range []string{"m=audio 40000 RTP/AVP 0 8 101", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=sendonly", "o=parkway 7 3 IN IP4 127.0.0.1", "c=IN IP4 127.0.0.1"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("offer lacks %q:\n%s", want, body)
		}
	}
	r, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if r.Addr != l.Addr || r.Codec() != g711.PayloadPCMU || len(r.Payloads) != 2 || r.Events != 101 || r.Dir != SendOnly {
		t.Fatalf("parsed %+v", r)
	}
	l.Addr = netip.MustParseAddrPort("[::1]:40000")
	if body := string(l.Marshal()); !strings.Contains(body, "c=IN IP6 ::1") {
		t.Errorf("IPv6 offer:\n%s", body)
	}
}

const base = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		pt         uint8
		events     uint8
		dir        Direction
		err        error
	}{
		{"pcma first", base + "m=audio 5000 RTP/AVP 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\n", g711.PayloadPCMA, 96, SendRecv, nil},
		{"video skipped", base + "m=video 6000 RTP/AVP 96\r\nm=audio 5000 RTP/AVP 0\r\na=recvonly\r\n", g711.PayloadPCMU, 0, RecvOnly, nil},
		{"session-level inactive", base + "a=inactive\r\nm=audio 5000 RTP/AVP 0\r\n", g711.PayloadPCMU, 0, Inactive, nil},
		{"old-style hold", strings.Replace(base, "c=IN IP4 10.0.0.1", "c=IN IP4 0.0.0.0", 1) + "m=audio 5000 RTP/AVP 0\r\n", g711.PayloadPCMU, 0, SendOnly, nil},
		{"opus only", base + "m=audio 5000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n", 0, 0, 0, ErrNoCodec},
		{"G.722 only", base + "m=audio 5000 RTP/AVP 9\r\n", 0, 0, 0, ErrNoCodec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse([]byte(tc.body))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Codec() != tc.pt || d.Events != tc.events || d.Dir != tc.dir || d.Addr.Port() != 5000 {
				t.Fatalf("got %+v", d)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	portZero := base + "m=audio 0 RTP/AVP 0\r\n"
	for _, bad := range []string{"", "garbage", "v=0\r\nm=audio 1 RTP/AVP 0\r\n", portZero,
		"v=0\r\no=- 1 1 IN IP4 x\r\ns=-\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	// The park service's rules take a disabled stream as one.
	if d, err := (Rules{AcceptPortZero: true}).Parse([]byte(portZero)); err != nil || d.Addr.Port() != 0 || d.Codec() != g711.PayloadPCMU {
		t.Errorf("AcceptPortZero: %+v, %v", d, err)
	}
}

// FuzzParse: the SDP parser faces the network.
func FuzzParse(f *testing.F) {
	f.Add(Build(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}, 1))
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 1 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=inactive\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, rules := range []Rules{{}, {AcceptPortZero: true}} {
			d, err := rules.Parse(body)
			if err != nil {
				continue
			}
			if !d.Addr.IsValid() || (d.Addr.Port() == 0 && !rules.AcceptPortZero) || len(d.Payloads) == 0 {
				t.Fatalf("%+v accepted an unusable description %+v", rules, d)
			}
			for _, pt := range d.Payloads {
				if pt != g711.PayloadPCMU && pt != g711.PayloadPCMA {
					t.Fatalf("non-G.711 payload %d", pt)
				}
			}
		}
	})
}
