package signaling

import (
	"errors"
	"strings"
	"testing"
)

// The media action (issue 10): an existing call, this tab's offer.
func TestMediaActionDecode(t *testing.T) {
	ok := `{"v":1,"type":"action","id":"4","data":{"action":"media","call":"c1","sdp":"v=0\r\n"}}`
	if _, m, err := Decode(FromClient, []byte(ok)); err != nil {
		t.Fatalf("%s: %v", ok, err)
	} else if r := m.(*Request); r.Action != ActionMedia || r.Call != "c1" {
		t.Fatalf("decoded %+v", r)
	}
	for frame, field := range map[string]string{
		`{"v":1,"type":"action","data":{"action":"media","sdp":"v=0\r\n"}}`:                 "call",
		`{"v":1,"type":"action","data":{"action":"media","call":"c1"}}`:                     "sdp",
		`{"v":1,"type":"action","data":{"action":"media","call":"c1","sdp":"hello"}}`:       "sdp",
		`{"v":1,"type":"action","data":{"action":"hold","call":"c1","sdp":"v=0\r\n"}}`:      "sdp",
		`{"v":1,"type":"call","data":{"id":"c1","state":"active","media":"somewhere"}}`:     "media",
		`{"v":1,"type":"welcome","data":{"user":"bob","session":"s","needsMedia":["a b"]}}`: "needsMedia",
	} {
		side := FromClient
		if strings.Contains(frame, `"call","data"`) || strings.Contains(frame, `"welcome"`) {
			side = FromGateway
		}
		_, _, err := Decode(side, []byte(frame))
		var e *Error
		if err == nil || !errors.As(err, &e) || e.Field != field {
			t.Errorf("%s: %v, want a bad %s", frame, err, field)
		}
	}
}

// Media is allowed in every phase (no pool is in a call's media path) for every
// call that has a leg, and is no button: the pushed capabilities stay the §2 table's.
func TestMediaActionRule(t *testing.T) {
	for _, p := range Phases {
		for _, s := range []CallState{CallDialing, CallActive, CallHeld} {
			if v := Allows(p, s, ActionMedia); !v.Allowed {
				t.Errorf("%s, %s: media refused: %s", p, s, v.Reason)
			}
		}
		for _, s := range []CallState{CallNone, CallRinging, CallEnded} {
			if v := Allows(p, s, ActionMedia); v.Allowed {
				t.Errorf("%s, %s: media allowed", p, s)
			}
		}
		if _, ok := CapabilitiesFor(p, CallActive)[ActionMedia]; ok {
			t.Errorf("%s: media is among the pushed capabilities", p)
		}
	}
}
