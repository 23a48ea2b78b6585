package signaling

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeValidClientMessages(t *testing.T) {
	cases := []struct {
		frame string
		want  Message
	}{
		{`{"v":1,"type":"auth","data":{"token":"abc"}}`, &Auth{Token: "abc"}},
		{`{"v":1,"type":"ping","data":{"seq":3}}`, &Ping{Seq: 3}},
		{`{"v":1,"type":"pong"}`, &Pong{}},
		{`{"v":1,"type":"action","id":"9","data":{"action":"park","call":"c1"}}`, &Request{Action: ActionPark, Call: "c1"}},
		{`{"v":1,"type":"action","data":{"action":"park","call":"c1","orbit":"7005"}}`, &Request{Action: ActionPark, Call: "c1", Orbit: "7005"}},
		{`{"v":1,"type":"action","data":{"action":"retrieve","orbit":"*123"}}`, &Request{Action: ActionRetrieve, Orbit: "*123"}},
		{`{"v":1,"type":"action","data":{"action":"call","target":"bob"}}`, &Request{Action: ActionCall, Target: "bob"}},
		{`{"v":1,"type":"action","data":{"action":"call","target":"+4930123"}}`, &Request{Action: ActionCall, Target: "+4930123"}},
		{`{"v":1,"type":"action","data":{"action":"transfer","call":"c1","target":"carol"}}`, &Request{Action: ActionTransfer, Call: "c1", Target: "carol"}},
		{`{"v":1,"type":"action","data":{"action":"transfer","call":"c1","consult":"c2"}}`, &Request{Action: ActionTransfer, Call: "c1", Consult: "c2"}},
		{`{"v":1,"type":"action","data":{"action":"mute","call":"c1","muted":false}}`, &Request{Action: ActionMute, Call: "c1", Muted: new(false)}},
		{`{"v":1,"type":"ice","data":{"ref":"7","candidate":"candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
			&ICE{Ref: "7", Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", SDPMid: "0", SDPMLineIndex: new(uint16(0))}},
		{`{"v":1,"type":"ice","data":{"ref":"7","candidate":""}}`, &ICE{Ref: "7"}},
	}
	for _, c := range cases {
		_, m, err := Decode(FromClient, []byte(c.frame))
		if err != nil {
			t.Errorf("%s: %v", c.frame, err)
			continue
		}
		if m.Type() != c.want.Type() {
			t.Errorf("%s: type %s", c.frame, m.Type())
		}
		got, _ := Encode("", m)
		want, _ := Encode("", c.want)
		if string(got) != string(want) {
			t.Errorf("%s: decoded to %s, want %s", c.frame, got, want)
		}
	}
}

func TestDecodeRejectsWithTypedErrors(t *testing.T) {
	cases := []struct {
		name, frame string
		want        error
		field       string
	}{
		{"empty", ``, ErrMalformed, ""},
		{"not json", `hello`, ErrMalformed, ""},
		{"array", `[1,2]`, ErrMalformed, ""},
		{"trailing", `{"v":1,"type":"ping"} {}`, ErrMalformed, ""},
		{"unknown envelope field", `{"v":1,"type":"ping","x":1}`, ErrMalformed, ""},
		{"no version", `{"type":"ping"}`, ErrVersion, ""},
		{"future version", `{"v":2,"type":"ping"}`, ErrVersion, ""},
		{"unknown type", `{"v":1,"type":"teleport"}`, ErrUnknownType, ""},
		{"gateway-only type from a client", `{"v":1,"type":"state","data":{"phase":"normal"}}`, ErrUnknownType, ""},
		{"unknown data field", `{"v":1,"type":"auth","data":{"token":"a","admin":true}}`, ErrBadField, ""},
		{"wrong field type", `{"v":1,"type":"auth","data":{"token":5}}`, ErrBadField, "token"},
		{"missing token", `{"v":1,"type":"auth","data":{}}`, ErrBadField, "token"},
		{"unknown action", `{"v":1,"type":"action","data":{"action":"teleport"}}`, ErrBadField, "action"},
		{"no action", `{"v":1,"type":"action","data":{}}`, ErrBadField, "action"},
		{"call without target", `{"v":1,"type":"action","data":{"action":"call"}}`, ErrBadField, "target"},
		{"retrieve without orbit", `{"v":1,"type":"action","data":{"action":"retrieve"}}`, ErrBadField, "orbit"},
		{"orbit with leading zero", `{"v":1,"type":"action","data":{"action":"retrieve","orbit":"0700"}}`, ErrBadField, "orbit"},
		{"orbit too long", `{"v":1,"type":"action","data":{"action":"retrieve","orbit":"1234567890"}}`, ErrBadField, "orbit"},
		{"target with SIP injection", `{"v":1,"type":"action","data":{"action":"call","target":"bob@evil;x=1"}}`, ErrBadField, "target"},
		{"bad call id", `{"v":1,"type":"action","data":{"action":"hangup","call":"a b"}}`, ErrBadField, "call"},
		{"transfer to nobody", `{"v":1,"type":"action","data":{"action":"transfer","call":"c1"}}`, ErrBadField, "target"},
		{"blind and attended at once", `{"v":1,"type":"action","data":{"action":"transfer","call":"c1","target":"bob","consult":"c2"}}`, ErrBadField, "consult"},
		{"attended without the call", `{"v":1,"type":"action","data":{"action":"transfer","consult":"c2"}}`, ErrBadField, "call"},
		{"attended to itself", `{"v":1,"type":"action","data":{"action":"transfer","call":"c1","consult":"c1"}}`, ErrBadField, "consult"},
		{"consult on park", `{"v":1,"type":"action","data":{"action":"park","call":"c1","consult":"c2"}}`, ErrBadField, "consult"},
		{"mute without muted", `{"v":1,"type":"action","data":{"action":"mute","call":"c1"}}`, ErrBadField, "muted"},
		{"muted on hold", `{"v":1,"type":"action","data":{"action":"hold","call":"c1","muted":true}}`, ErrBadField, "muted"},
		{"ice without ref", `{"v":1,"type":"ice","data":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5 typ host"}}`, ErrBadField, "ref"},
		{"ice not a candidate", `{"v":1,"type":"ice","data":{"ref":"1","candidate":"a=evil"}}`, ErrBadField, "candidate"},
		{"parked from a client", `{"v":1,"type":"parked","data":{"pool":"pool-a","calls":[]}}`, ErrUnknownType, ""},
		{"long id", `{"v":1,"type":"ping","id":"` + strings.Repeat("x", 65) + `"}`, ErrBadField, "id"},
		{"oversize", `{"v":1,"type":"auth","data":{"token":"` + strings.Repeat("a", MaxMessageSize) + `"}}`, ErrTooLarge, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, m, err := Decode(FromClient, []byte(c.frame))
			if err == nil {
				t.Fatalf("accepted as %#v", m)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Message == "" {
				t.Fatalf("error %v has no message", err)
			}
			if c.field != "" && e.Field != c.field {
				t.Errorf("field %q, want %q", e.Field, c.field)
			}
		})
	}
}

func TestDecodeEchoesTheRequestID(t *testing.T) {
	_, _, err := Decode(FromClient, []byte(`{"v":1,"type":"action","id":"42","data":{"action":"nope"}}`))
	var e *Error
	if !errors.As(err, &e) || e.Ref != "42" {
		t.Fatalf("error %v does not refer to request 42", err)
	}
}

func TestGatewayMessagesRoundTrip(t *testing.T) {
	for _, m := range []Message{
		&Welcome{User: "alice", Session: "s1", HeartbeatMillis: 2000},
		NewState(PhaseFailover, "pool-a", "pool-b", CallActive),
		&Error{Code: CodeRefused, Message: ReasonParkResiliency, Ref: "3"},
		&Ping{Seq: 1},
		&Parked{Pool: "pool-a", Calls: []ParkedCall{
			{Orbit: "7001", Pool: "pool-a", Peer: "bob", ParkedBy: "alice", Since: 1, Expires: 2, State: "parked"},
			{Orbit: "8000", Pool: "pool-b", Peer: "dave", Since: 1},
		}},
	} {
		frame, err := Encode("7", m)
		if err != nil {
			t.Fatal(err)
		}
		env, got, err := Decode(FromGateway, frame)
		if err != nil {
			t.Fatalf("%s: %v", frame, err)
		}
		if env.ID != "7" || got.Type() != m.Type() {
			t.Fatalf("%s: decoded %s id %q", frame, got.Type(), env.ID)
		}
		again, _ := Encode("7", got)
		if string(again) != string(frame) {
			t.Errorf("round trip changed %s into %s", frame, again)
		}
	}
	if _, _, err := Decode(FromGateway, []byte(`{"v":1,"type":"state","data":{"phase":"sideways"}}`)); !errors.Is(err, ErrBadField) {
		t.Errorf("a state with an unknown phase: %v", err)
	}
}

// The parked list names the active pool, where new parks go, and each call the pool
// that holds it; a call without one (an older gateway) leaves the field out.
func TestParkedCallsNameTheirPool(t *testing.T) {
	frame := `{"v":1,"type":"parked","data":{"pool":"pool-a","calls":[{"orbit":"8000","pool":"pool-b","peer":"dave","since":1},{"orbit":"7001","peer":"bob","since":2}]}}`
	_, m, err := Decode(FromGateway, []byte(frame))
	if err != nil {
		t.Fatal(err)
	}
	p := m.(*Parked)
	if p.Pool != "pool-a" || len(p.Calls) != 2 || p.Calls[0].Pool != "pool-b" || p.Calls[1].Pool != "" {
		t.Fatalf("decoded %+v", p)
	}
	again, err := Encode("", p)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != frame {
		t.Errorf("re-encoded\n %s\nwant\n %s", again, frame)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"type":"auth","data":{"token":"abc"}}`,
		`{"v":1,"type":"action","id":"1","data":{"action":"retrieve","orbit":"7001"}}`,
		`{"v":1,"type":"state","data":{"phase":"failover","capabilities":{"park":{"allowed":false}}}}`,
		`{"v":1,"type":"ping","data":null}`,
		`{"v":1,"type":"action","id":"2","data":{"action":"call","target":"bob","sdp":"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}}`,
		`{"v":1,"type":"action","data":{"action":"hold","call":"c1","sdp":"v=0"}}`,
		`{"v":1,"type":"call","id":"2","data":{"id":"c1","peer":"sip:bob@pool-a","state":"ended","direction":"outgoing","reason":"not found"}}`,
		`{"v":1,"type":"call","data":{"id":"c1","state":"ended","reason":"parked","orbit":"7000"}}`,
		`{"v":1,"type":"parked","data":{"pool":"pool-a","calls":[{"orbit":"8000","pool":"pool-b","peer":"dave","since":1}]}}`,
		`{"v":2}`, `[]`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		for _, side := range []Side{FromClient, FromGateway} {
			env, m, err := Decode(side, frame)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Code == "" || e.Message == "" {
					t.Fatalf("untyped or empty error %v", err)
				}
				continue
			}
			// Whatever decodes re-encodes and decodes to the same thing.
			again, err := Encode(env.ID, m)
			if err != nil {
				t.Fatalf("decoded %T does not encode: %v", m, err)
			}
			_, m2, err := Decode(side, again)
			if err != nil {
				t.Fatalf("re-encoded %s does not decode: %v", again, err)
			}
			if third, _ := Encode(env.ID, m2); string(third) != string(again) {
				t.Fatalf("not stable: %s vs %s", again, third)
			}
		}
	})
}
