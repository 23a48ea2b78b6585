package softphone

import (
	"testing"

	"github.com/parkway/parkway/signaling"
)

func TestParseCommandTakesWellFormedCalls(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		name string
		args map[string]any
		want Command
	}{
		{"dial", map[string]any{"target": " bob "}, Command{Name: "dial", Act: signaling.ActionCall, Target: "bob"}},
		{"dial", map[string]any{"target": "7001"}, Command{Name: "dial", Act: signaling.ActionCall, Target: "7001"}},
		{"answer", nil, Command{Name: "answer", Act: signaling.ActionAnswer}},
		{"answer", map[string]any{"call": nil}, Command{Name: "answer", Act: signaling.ActionAnswer}},
		{"hangup", map[string]any{"call": "c-1"}, Command{Name: "hangup", Act: signaling.ActionHangup, Call: "c-1"}},
		{"transfer", map[string]any{}, Command{Name: "transfer", Act: signaling.ActionTransfer}},
		{"transfer", map[string]any{"target": "dave"}, Command{Name: "transfer", Act: signaling.ActionTransfer, Target: "dave"}},
		{"transfer", map[string]any{"call": "c1", "consult": "c2"}, Command{Name: "transfer", Act: signaling.ActionTransfer, Call: "c1", Consult: "c2"}},
		{"park", map[string]any{"orbit": "7012"}, Command{Name: "park", Act: signaling.ActionPark, Orbit: "7012"}},
		{"retrieve", map[string]any{"orbit": "*75"}, Command{Name: "retrieve", Act: signaling.ActionRetrieve, Orbit: "*75"}},
		{"mute", map[string]any{"muted": true}, Command{Name: "mute", Act: signaling.ActionMute, Muted: &yes}},
		{"mute", map[string]any{"muted": false, "call": "c1"}, Command{Name: "mute", Act: signaling.ActionMute, Call: "c1", Muted: &no}},
		{"dtmf", map[string]any{"digits": "12#*a"}, Command{Name: "dtmf", Digits: "12#*A"}},
	}
	for _, c := range cases {
		got, err := ParseCommand(c.name, c.args)
		if err != nil {
			t.Errorf("%s %v: %v", c.name, c.args, err)
			continue
		}
		same := got.Name == c.want.Name && got.Act == c.want.Act && got.Call == c.want.Call &&
			got.Target == c.want.Target && got.Consult == c.want.Consult && got.Orbit == c.want.Orbit &&
			got.Digits == c.want.Digits && (got.Muted == nil) == (c.want.Muted == nil) &&
			(got.Muted == nil || *got.Muted == *c.want.Muted)
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
		_, err := ParseCommand(c.name, c.args)
		if err == nil {
			t.Errorf("%q %v: accepted", c.name, c.args)
			continue
		}
		if err.Code != CodeBadCommand || err.Field != c.field || err.Message == "" {
			t.Errorf("%q %v: %+v, want bad-command on %q", c.name, c.args, err, c.field)
		}
	}
}

func TestWaiterSettlesOnTheChangeItAskedFor(t *testing.T) {
	yes := true
	cases := []struct {
		cmd     Command
		call    signaling.Call
		ref     string
		settled bool
		failed  bool
	}{
		{Command{Act: signaling.ActionCall}, signaling.Call{ID: "n", State: signaling.CallDialing}, "7", true, false},
		{Command{Act: signaling.ActionCall}, signaling.Call{ID: "n", State: signaling.CallDialing}, "8", false, false},
		{Command{Act: signaling.ActionHold, Call: "c"}, signaling.Call{ID: "c", State: signaling.CallActive}, "", false, false},
		{Command{Act: signaling.ActionHold, Call: "c"}, signaling.Call{ID: "c", State: signaling.CallHeld}, "", true, false},
		{Command{Act: signaling.ActionHold, Call: "c"}, signaling.Call{ID: "d", State: signaling.CallHeld}, "", false, false},
		{Command{Act: signaling.ActionHold, Call: "c"}, signaling.Call{ID: "c", State: signaling.CallEnded}, "", true, true},
		{Command{Act: signaling.ActionResume, Call: "c"}, signaling.Call{ID: "c", State: signaling.CallActive}, "", true, false},
		{Command{Act: signaling.ActionPark, Call: "c"}, signaling.Call{ID: "c", State: signaling.CallEnded, Orbit: "7001"}, "", true, false},
		{Command{Act: signaling.ActionMute, Call: "c", Muted: &yes}, signaling.Call{ID: "c", State: signaling.CallActive}, "", false, false},
		{Command{Act: signaling.ActionMute, Call: "c", Muted: &yes}, signaling.Call{ID: "c", State: signaling.CallActive, Muted: true}, "", true, false},
	}
	for i, c := range cases {
		w := Waiter{Cmd: c.cmd, ID: "7"}
		settled, _, e := w.Done(&c.call, c.ref)
		if settled != c.settled || (e != nil) != c.failed {
			t.Errorf("case %d: settled %v err %v, want %v failed %v", i, settled, e, c.settled, c.failed)
		}
	}
}
