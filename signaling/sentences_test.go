package signaling

import (
	"strings"
	"testing"
)

func TestSIPSentence(t *testing.T) {
	for _, tc := range []struct {
		act     Action
		code    int
		subject string
		want    string
	}{
		{ActionPark, 404, "7000", "Orbit 7000 was not found: it is not one of the pool's orbits."},
		{ActionPark, 404, "", "The park service was not found."},
		{ActionRetrieve, 404, "7050", "No call is parked on orbit 7050."},
		{ActionCall, 404, "zed", "The user or number zed was not found."},
		{ActionTransfer, 604, "", "The user or number was not found."},
		{ActionPark, 480, "", "No orbit is free to park on right now."},
		{ActionRetrieve, 480, "7001", "The parked party did not take the call."},
		{ActionCall, 480, "bob", "bob is not available right now."},
		{ActionPark, 486, "7002", "Orbit 7002 is already in use."},
		{ActionRetrieve, 486, "7002", "Someone else is already retrieving the call on orbit 7002."},
		{ActionCall, 486, "bob", "bob is busy."},
		{ActionCall, 600, "bob", "bob is busy."},
		{ActionCall, 603, "bob", "bob declined."},
		{ActionRetrieve, 408, "7003", "The park time expired."},
		{ActionTransfer, 408, "carol", "carol did not answer in time."},
		{ActionHold, 487, "", "It was cancelled before it was done."},
		{ActionPark, 488, "", "The other side cannot take G.711 audio, the only audio Parkway relays."},
		{ActionCall, 407, "", "The phone system did not accept the gateway's credentials."},
		{ActionPark, 403, "", "The phone system refused it."},
		{ActionTransfer, 405, "", "The other side does not support that."},
		{ActionHold, 481, "", "The call no longer exists at the far end."},
		{ActionResume, 491, "", "The other side was changing the call at the same moment; try again."},
		{ActionPark, 503, "", "The phone system is unavailable right now; try again shortly."},
		{ActionCall, 500, "bob", "The phone system is unavailable right now; try again shortly."},
		{ActionCall, 499, "bob", "The phone system refused it (SIP status 499)."},
	} {
		got := SIPSentence(tc.act, tc.code, tc.subject)
		if got != tc.want {
			t.Errorf("SIPSentence(%s, %d, %q) = %q, want %q", tc.act, tc.code, tc.subject, got, tc.want)
		}
	}
}

// Every status a SIP party can answer gives one sentence: no Go error text, no line
// breaks, a full stop at the end.
func TestSIPSentenceIsOneSentence(t *testing.T) {
	for _, act := range []Action{ActionCall, ActionPark, ActionRetrieve, ActionTransfer, ActionHold} {
		for code := 300; code < 700; code++ {
			s := SIPSentence(act, code, "7000")
			if !strings.HasSuffix(s, ".") || strings.ContainsAny(s, "\n") || strings.Contains(s, ": park:") || strings.Contains(s, "ua:") {
				t.Fatalf("SIPSentence(%s, %d) = %q", act, code, s)
			}
		}
	}
}

func TestOrbitRefusal(t *testing.T) {
	both := []PoolState{{Name: "pool-a", Orbits: "7000-7099", Up: false}, {Name: "pool-b", Orbits: "8000-8099,8200", Up: true}}
	for _, tc := range []struct {
		orbit string
		pools []PoolState
		want  string
	}{
		{"7000", both, "Orbit 7000 is on pool-a, which is down."},
		{"8050", both, ""},
		{"8200", both, ""},
		{"", both, ""},
		{"9000", both, "Orbit 9000 is not in any pool's orbit range (pool-a 7000-7099, pool-b 8000-8099, pool-b 8200)."},
		{"0700", both, `"0700" is not an orbit number.`},
		{"7000", nil, ""}, // a gateway that does not say refuses nothing here
	} {
		if got := OrbitRefusal(tc.orbit, tc.pools); got != tc.want {
			t.Errorf("OrbitRefusal(%q) = %q, want %q", tc.orbit, got, tc.want)
		}
	}
}
