package parkwire

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The gateway decodes what the park service encodes, possibly across
// versions: the JSON names are the contract, not the Go ones.
func TestPublishedParkJSONNames(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	call := ParkedCall{Orbit: "7000", ParkedParty: "sip:bob@a", ParkedBy: "sip:alice@a", Since: at,
		Deadline: at, State: StateRingingBack, Attempts: 1, RetrievedBy: "sip:carol@a"}
	b, err := json.Marshal(PublishedPark{Pool: "pool-a", Version: 3, Parked: []ParkedCall{call},
		Event: &Event{Seq: 9, Time: at, Call: call, Reason: "timeout"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{`"pool":"pool-a"`, `"version":3`, `"event":{"seq":9`, `"reason":"timeout"`,
		`"parked":[{"orbit":"7000"`, `"parkedParty":"sip:bob@a"`, `"parkedBy":"sip:alice@a"`, `"since":"2026-01-02T03:04:05Z"`,
		`"deadline":`, `"state":"ringing-back"`, `"attempts":1`, `"retrievedBy":"sip:carol@a"`} {
		if !strings.Contains(string(b), name) {
			t.Errorf("%s lacks %s", b, name)
		}
	}
	var back PublishedPark
	if err := json.Unmarshal(b, &back); err != nil || back.Event == nil || back.Parked[0] != call {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

func TestStateFinal(t *testing.T) {
	for st, final := range map[State]bool{StateParked: false, StateRingingBack: false,
		StateRetrieved: true, StateTimedOut: true, StateDisconnected: true} {
		if st.Final() != final {
			t.Errorf("%s.Final() = %v", st, !final)
		}
	}
}
