package signaling

import (
	"errors"
	"strings"
	"testing"
)

const offer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0 8\r\n"

// The SDP rides on the requests that start a call's media leg, and on nothing else.
func TestRequestSDP(t *testing.T) {
	for _, a := range []Action{ActionCall, ActionAnswer, ActionRetrieve} {
		r := &Request{Action: a, Target: "bob", Call: "c1", Orbit: "7001", SDP: offer}
		if e := r.validate(); e != nil {
			t.Errorf("%s with an offer: %v", a, e)
		}
	}
	bad := []*Request{
		{Action: ActionHold, Call: "c1", SDP: offer},
		{Action: ActionCall, Target: "bob", SDP: "hello"},
		{Action: ActionCall, Target: "bob", SDP: "v=0" + strings.Repeat("a", MaxSDPSize)},
	}
	for _, r := range bad {
		if e := r.validate(); e == nil || e.Field != "sdp" {
			t.Errorf("%+v: %v, want a bad sdp field", r, e)
		}
	}
}

func TestDecodeCall(t *testing.T) {
	frame := `{"v":1,"type":"call","id":"r1","data":{"id":"c1","peer":"sip:bob@pool-a","state":"dialing","direction":"outgoing","sdp":"v=0\r\n"}}`
	env, m, err := Decode(FromGateway, []byte(frame))
	if err != nil {
		t.Fatal(err)
	}
	c, ok := m.(*Call)
	if !ok || env.ID != "r1" || c.ID != "c1" || c.State != CallDialing || c.Direction != CallOutgoing {
		t.Fatalf("%T %+v", m, m)
	}
	if _, _, err := Decode(FromClient, []byte(frame)); !errors.Is(err, ErrUnknownType) {
		t.Errorf("a client sending a call message: %v", err)
	}
	for _, data := range []string{
		`{"id":"","state":"active"}`,
		`{"id":"c1","state":""}`,
		`{"id":"c1","state":"parked"}`,
		`{"id":"c1","state":"active","direction":"sideways"}`,
		`{"id":"c1","state":"active","sdp":"nope"}`,
		`{"id":"c1","state":"ended","orbit":"0"}`,
	} {
		if _, _, err := Decode(FromGateway, []byte(`{"v":1,"type":"call","data":`+data+`}`)); !errors.Is(err, ErrBadField) {
			t.Errorf("%s: %v, want bad-field", data, err)
		}
	}
}
