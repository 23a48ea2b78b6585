//go:build js && wasm

package main

import (
	"testing"

	"github.com/parkway/parkway/signaling"
)

func TestParseCommandTakesWellFormedCalls(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		name string
		args map[string]any
		want command
	}{
		{"dial", map[string]any{"target": " bob "}, command{name: "dial", act: signaling.ActionCall, target: "bob"}},
		{"dial", map[string]any{"target": "7001"}, command{name: "dial", act: signaling.ActionCall, target: "7001"}},
		{"answer", nil, command{name: "answer", act: signaling.ActionAnswer}},
		{"answer", map[string]any{"call": nil}, command{name: "answer", act: signaling.ActionAnswer}},
		{"hangup", map[string]any{"call": "c-1"}, command{name: "hangup", act: signaling.ActionHangup, call: "c-1"}},
		{"transfer", map[string]any{}, command{name: "transfer", act: signaling.ActionTransfer}},
		{"transfer", map[string]any{"target": "dave"}, command{name: "transfer", act: signaling.ActionTransfer, target: "dave"}},
		{"transfer", map[string]any{"call": "c1", "consult": "c2"}, command{name: "transfer", act: signaling.ActionTransfer, call: "c1", consult: "c2"}},
		{"park", map[string]any{"orbit": "7012"}, command{name: "park", act: signaling.ActionPark, orbit: "7012"}},
		{"retrieve", map[string]any{"orbit": "*75"}, command{name: "retrieve", act: signaling.ActionRetrieve, orbit: "*75"}},
		{"mute", map[string]any{"muted": true}, command{name: "mute", act: signaling.ActionMute, muted: &yes}},
		{"mute", map[string]any{"muted": false, "call": "c1"}, command{name: "mute", act: signaling.ActionMute, call: "c1", muted: &no}},
		{"dtmf", map[string]any{"digits": "12#*a"}, command{name: "dtmf", digits: "12#*A"}},
	}
	for _, c := range cases {
		got, err := parseCommand(c.name, c.args)
		if err != nil {
			t.Errorf("%s %v: %v", c.name, c.args, err)
			continue
		}
		same := got.name == c.want.name && got.act == c.want.act && got.call == c.want.call &&
			got.target == c.want.target && got.consult == c.want.consult && got.orbit == c.want.orbit &&
			got.digits == c.want.digits && (got.muted == nil) == (c.want.muted == nil) &&
			(got.muted == nil || *got.muted == *c.want.muted)
		if !same {
			t.Errorf("%s %v: %+v, want %+v", c.name, c.args, got, c.want)
		}
	}
}

func TestParseCommandRefusesMalformedCalls(t *testing.T) {
	cases := []struct {
		name  string
		args  map[string]any
		field string
	}{
		{"explode", nil, ""},
		{"", nil, ""},
		{"dial", nil, "target"},
		{"dial", map[string]any{"target": ""}, "target"},
		{"dial", map[string]any{"target": "bob smith"}, "target"},
		{"dial", map[string]any{"target": 42.0}, "target"},
		{"dial", map[string]any{"target": "bob", "orbit": "7001"}, "orbit"},
		{"answer", map[string]any{"call": "no spaces please"}, "call"},
		{"hold", map[string]any{"call": true}, "call"},
		{"retrieve", nil, "orbit"},
		{"retrieve", map[string]any{"orbit": "0123"}, "orbit"},
		{"park", map[string]any{"orbit": "seven"}, "orbit"},
		{"mute", nil, "muted"},
		{"mute", map[string]any{"muted": "yes"}, "muted"},
		{"transfer", map[string]any{"target": "bob", "consult": "c2"}, "consult"},
		{"transfer", map[string]any{"call": "c1", "consult": "c1"}, "consult"},
		{"dtmf", nil, "digits"},
		{"dtmf", map[string]any{"digits": "12x"}, "digits"},
		{"dtmf", map[string]any{"digits": "123456789012345678901234567890123"}, "digits"},
	}
	for _, c := range cases {
		_, err := parseCommand(c.name, c.args)
		if err == nil {
			t.Errorf("%q %v: accepted", c.name, c.args)
			continue
		}
		if err.Code != codeBadCommand || err.Field != c.field || err.Message == "" {
			t.Errorf("%q %v: %+v, want bad-command on %q", c.name, c.args, err, c.field)
		}
	}
}

func TestWaiterSettlesOnTheChangeItAskedFor(t *testing.T) {
	yes := true
	cases := []struct {
		cmd     command
		call    signaling.Call
		ref     string
		settled bool
		failed  bool
	}{
		{command{act: signaling.ActionCall}, signaling.Call{ID: "n", State: signaling.CallDialing}, "7", true, false},
		{command{act: signaling.ActionCall}, signaling.Call{ID: "n", State: signaling.CallDialing}, "8", false, false},
		{command{act: signaling.ActionHold, call: "c"}, signaling.Call{ID: "c", State: signaling.CallActive}, "", false, false},
		{command{act: signaling.ActionHold, call: "c"}, signaling.Call{ID: "c", State: signaling.CallHeld}, "", true, false},
		{command{act: signaling.ActionHold, call: "c"}, signaling.Call{ID: "d", State: signaling.CallHeld}, "", false, false},
		{command{act: signaling.ActionHold, call: "c"}, signaling.Call{ID: "c", State: signaling.CallEnded}, "", true, true},
		{command{act: signaling.ActionResume, call: "c"}, signaling.Call{ID: "c", State: signaling.CallActive}, "", true, false},
		{command{act: signaling.ActionPark, call: "c"}, signaling.Call{ID: "c", State: signaling.CallEnded, Orbit: "7001"}, "", true, false},
		{command{act: signaling.ActionMute, call: "c", muted: &yes}, signaling.Call{ID: "c", State: signaling.CallActive}, "", false, false},
		{command{act: signaling.ActionMute, call: "c", muted: &yes}, signaling.Call{ID: "c", State: signaling.CallActive, Muted: true}, "", true, false},
	}
	for i, c := range cases {
		w := waiter{cmd: c.cmd, id: "7"}
		settled, _, e := w.done(&c.call, c.ref)
		if settled != c.settled || (e != nil) != c.failed {
			t.Errorf("case %d: settled %v err %v, want %v failed %v", i, settled, e, c.settled, c.failed)
		}
	}
}

func TestShortcuts(t *testing.T) {
	cases := []struct {
		key              string
		typing, modified bool
		want             any
	}{
		{"a", false, false, pressEvent{signaling.ActionAnswer}},
		{"A", false, false, pressEvent{signaling.ActionAnswer}},
		{"d", false, false, pressEvent{signaling.ActionDecline}},
		{"h", false, false, holdToggleEvent{}},
		{"m", false, false, pressEvent{signaling.ActionMute}},
		{"Escape", false, false, pressEvent{signaling.ActionHangup}},
		{"n", false, false, focusNumberEvent{}},
		{"7", false, false, digitEvent{"7"}},
		{"#", false, false, digitEvent{"#"}},
		{"a", true, false, nil},      // typing a name
		{"Escape", true, false, nil}, // leaving a field is the browser's
		{"m", false, true, nil},      // Ctrl+M and friends are the browser's
		{"x", false, false, nil},
		{"Enter", false, false, nil}, // Enter is the focused button's or the form's
	}
	for _, c := range cases {
		got, ok := shortcut(c.key, c.typing, c.modified)
		if ok != (c.want != nil) || got != c.want {
			t.Errorf("%q typing=%v modified=%v: %v %v, want %v", c.key, c.typing, c.modified, got, ok, c.want)
		}
	}
}

func TestUnsentSkipsCandidatesTheOfferCarries(t *testing.T) {
	sdp := "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0\r\n"
	queued := []signaling.ICE{
		{Candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0"},
		{Candidate: "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host generation 0"}, // a prefix of the one sent
		{Candidate: "candidate:2 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0"},
		{Candidate: ""},
	}
	got := unsent(queued, sdp)
	if len(got) != 3 || got[0].Candidate != queued[1].Candidate || got[1].Candidate != queued[2].Candidate || got[2].Candidate != "" {
		t.Fatalf("unsent: %+v", got)
	}
	if got := unsent(queued, sdp+"a=candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host generation 0\r\na=candidate:2 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0\r\na=end-of-candidates\r\n"); len(got) != 0 {
		t.Fatalf("a complete offer leaves nothing to trickle: %+v", got)
	}
}
