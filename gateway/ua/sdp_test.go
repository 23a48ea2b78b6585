package ua

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/parkway/parkway/gateway/dr"
)

// The Manager is what gateway/dr moves users with.
var _ dr.Redirector = (*Manager)(nil)

func TestSDPOfferRoundTrip(t *testing.T) {
	l := localMedia{addr: netip.MustParseAddrPort("127.0.0.1:40000"), id: 7, version: 3,
		payloads: []uint8{PayloadPCMU, PayloadPCMA}, events: 101, dir: SendOnly}
	body := buildSDP(l)
	for _, want := range []string{"m=audio 40000 RTP/AVP 0 8 101", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=sendonly", "o=parkway 7 3 IN IP4 127.0.0.1", "c=IN IP4 127.0.0.1"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("offer lacks %q:\n%s", want, body)
		}
	}
	r, err := parseSDP(body)
	if err != nil {
		t.Fatal(err)
	}
	if r.addr != l.addr || r.codec() != PayloadPCMU || len(r.payloads) != 2 || r.events != 101 || r.dir != SendOnly {
		t.Fatalf("parsed %+v", r)
	}
}

func TestSDPParse(t *testing.T) {
	const base = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	for _, tc := range []struct {
		name, body string
		pt         uint8
		events     uint8
		dir        Direction
		err        error
	}{
		{"pcma first", base + "m=audio 5000 RTP/AVP 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\n", PayloadPCMA, 96, SendRecv, nil},
		{"video skipped", base + "m=video 6000 RTP/AVP 96\r\nm=audio 5000 RTP/AVP 0\r\na=recvonly\r\n", PayloadPCMU, 0, RecvOnly, nil},
		{"session-level inactive", base + "a=inactive\r\nm=audio 5000 RTP/AVP 0\r\n", PayloadPCMU, 0, Inactive, nil},
		{"old-style hold", strings.Replace(base, "c=IN IP4 10.0.0.1", "c=IN IP4 0.0.0.0", 1) + "m=audio 5000 RTP/AVP 0\r\n", PayloadPCMU, 0, SendOnly, nil},
		{"opus only", base + "m=audio 5000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n", 0, 0, 0, ErrNoCodec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseSDP([]byte(tc.body))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.codec() != tc.pt || r.events != tc.events || r.dir != tc.dir || r.addr.Port() != 5000 {
				t.Fatalf("got %+v", r)
			}
		})
	}
	for _, bad := range []string{"", "garbage", base + "m=audio 0 RTP/AVP 0\r\n", "v=0\r\no=- 1 1 IN IP4 x\r\ns=-\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n"} {
		if _, err := parseSDP([]byte(bad)); err == nil {
			t.Errorf("parseSDP(%q) accepted", bad)
		}
	}
}

// FuzzParseSDP: the SDP parser faces the network (STYLE.md habit 8).
func FuzzParseSDP(f *testing.F) {
	f.Add(buildSDP(localMedia{addr: netip.MustParseAddrPort("127.0.0.1:4000"), payloads: []uint8{0, 8}, events: 101}))
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 1 RTP/AVP 8\r\na=inactive\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseSDP(b)
		if err != nil {
			return
		}
		if !r.addr.IsValid() || r.addr.Port() == 0 || len(r.payloads) == 0 {
			t.Fatalf("accepted an unusable description %+v", r)
		}
		for _, pt := range r.payloads {
			if pt != PayloadPCMU && pt != PayloadPCMA {
				t.Fatalf("non-G.711 payload %d", pt)
			}
		}
	})
}

func TestTargetURI(t *testing.T) {
	p := Pool{Name: "pool-a", Addr: "127.0.0.1:5070"}
	for in, want := range map[string]string{"bob": "sip:bob@pool-a", "7005": "sip:7005@pool-a", "sip:x@10.0.0.1:5060": "sip:x@10.0.0.1:5060"} {
		u, err := targetURI(in, p)
		if err != nil || u.String() != want {
			t.Errorf("targetURI(%q) = %v %v, want %s", in, u.String(), err, want)
		}
	}
	for _, bad := range []string{"", "a b", "bob@x", "<sip:x>"} {
		if _, err := targetURI(bad, p); err == nil {
			t.Errorf("targetURI(%q) accepted", bad)
		}
	}
}
