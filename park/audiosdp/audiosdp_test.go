package audiosdp

import (
	"errors"
	"net"
	"testing"
)

func TestBuildParse(t *testing.T) {
	addr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	d, err := Parse(Build(addr, 7, 8, 0))
	if err != nil {
		t.Fatal(err)
	}
	if d.Addr.String() != "127.0.0.1:40000" || d.Choose() != 8 || len(d.Payloads) != 2 {
		t.Errorf("got %+v", d)
	}
}

func TestParseRejects(t *testing.T) {
	noG711 := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 9\r\n"
	if _, err := Parse([]byte(noG711)); !errors.Is(err, ErrNoCodec) {
		t.Errorf("G.722-only offer: err = %v, want ErrNoCodec", err)
	}
	for _, bad := range []string{"", "garbage", "v=0\r\nm=audio 1 RTP/AVP 0\r\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Build(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}, 1))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := Parse(body)
		if err == nil && (d.Addr == nil || len(d.Payloads) == 0) {
			t.Fatalf("accepted without address or codec: %+v", d)
		}
	})
}
