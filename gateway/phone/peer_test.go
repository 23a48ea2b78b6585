package phone

import (
	"testing"
	"time"

	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/park/parkwire"
)

// The gateway names peers by the user part of their SIP URIs, in calls and in the
// parked list alike; a number stays a number, a bare name stays as it is.
func TestCallsPeerIsTheUserPart(t *testing.T) {
	for in, want := range map[string]string{
		"bob":                                  "bob",
		"7005":                                 "7005",
		"sip:carol@pool-a":                     "carol",
		"sips:carol@pool-a:5061;transport=tls": "carol",
		"sip:+15551234567@pool-a;user=phone":   "+15551234567",
		"tel:+15551234567":                     "+15551234567",
		`"Carol" <sip:carol@pool-a>;tag=x`:     "carol",
		`"Carol <home>" <sip:carol@pool-a>`:    "carol",
		"<sip:7005@pool-b>":                    "7005",
		"":                                     "",
	} {
		if got := uriUser(in); got != want {
			t.Errorf("uriUser(%q) = %q, want %q", in, got, want)
		}
	}
	now := time.Now()
	m := parkedMessage(ua.ParkedList{Pool: "pool-a", Parked: []parkwire.ParkedCall{
		{Orbit: "7001", ParkedParty: `"Carol" <sip:carol@pool-a>`, ParkedBy: "sip:alice@pool-a", Since: now, State: parkwire.StateParked},
		{Orbit: "7002", ParkedParty: "sip:+15551234567@pool-a;user=phone", ParkedBy: "<sip:2001@pool-a>", Since: now, State: parkwire.StateRingingBack},
	}})
	if len(m.Calls) != 2 {
		t.Fatalf("parked list %+v", m)
	}
	if c := m.Calls[0]; c.Peer != "carol" || c.ParkedBy != "alice" {
		t.Errorf("parked call %+v, want carol parked by alice", c)
	}
	if c := m.Calls[1]; c.Peer != "+15551234567" || c.ParkedBy != "2001" {
		t.Errorf("parked call %+v, want +15551234567 parked by 2001", c)
	}
}
