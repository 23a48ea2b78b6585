package media

import (
	"errors"
	"net/netip"
	"testing"
)

func TestOfferCodecs(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	cases := []struct {
		name string
		sdp  string
		want []Codec
		err  error
	}{
		{"chrome-like", head + "m=audio 9 UDP/TLS/RTP/SAVPF 111 9 0 8 126\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:126 telephone-event/8000\r\n", []Codec{PCMU, PCMA}, nil},
		{"static without rtpmap", head + "m=audio 4000 RTP/AVP 8 0\r\n", []Codec{PCMA, PCMU}, nil},
		{"opus only", head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n", nil, ErrNoG711},
		{"video only", head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n", nil, ErrNoG711},
		{"audio rejected", head + "m=audio 0 RTP/AVP 0\r\n", nil, ErrNoG711},
		{"pt 0 remapped to something else", head + "m=audio 9 RTP/AVP 0\r\na=rtpmap:0 opus/48000/2\r\n", nil, ErrNoG711},
	}
	for _, c := range cases {
		got, err := OfferCodecs(c.sdp)
		if !errors.Is(err, c.err) || len(got) != len(c.want) {
			t.Errorf("%s: got %v, %v; want %v, %v", c.name, got, err, c.want, c.err)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: got %v, want %v", c.name, got, c.want)
			}
		}
	}
	if _, err := OfferCodecs("not sdp"); err == nil {
		t.Error("garbage parsed as an offer")
	}
}

func TestFactoryOptionsValidated(t *testing.T) {
	if _, err := NewFactory(&Options{NAT1To1IPs: []string{"not-an-ip"}}); err == nil {
		t.Error("bad NAT 1:1 address accepted")
	}
	if _, err := NewFactory(&Options{PortMin: 6000, PortMax: 5000}); err == nil {
		t.Error("inverted port range accepted")
	}
	if _, err := NewFactory(&Options{IPs: []netip.Addr{{}}}); err == nil {
		t.Error("invalid IP accepted")
	}
	if _, err := NewFactory(nil); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if _, err := NewFactory(&Options{NAT1To1IPs: []string{"203.0.113.7"}, PortMin: 20000, PortMax: 20100}); err != nil {
		t.Errorf("deployment options: %v", err)
	}
}
