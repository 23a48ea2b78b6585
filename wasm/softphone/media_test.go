package softphone

import (
	"slices"
	"testing"

	"github.com/parkway/parkway/signaling"
)

func TestWhereTheMediaIs(t *testing.T) {
	var l CallList
	for _, c := range []signaling.Call{
		{ID: "here", State: signaling.CallActive, Media: signaling.MediaHere},
		{ID: "other", State: signaling.CallHeld, Media: signaling.MediaElsewhere},
		{ID: "gone", State: signaling.CallActive, Media: signaling.MediaNeeded},
		{ID: "dialing", State: signaling.CallDialing, Media: signaling.MediaNeeded},
		{ID: "ended", State: signaling.CallEnded, Media: signaling.MediaNeeded},
		{ID: "old", State: signaling.CallActive}, // a gateway before issue 10
	} {
		l.Update(&c, t0)
	}
	if got := l.NeedingMedia(); !slices.Equal(got, []string{"gone", "dialing"}) {
		t.Errorf("calls needing media %q, want gone and dialing", got)
	}
	for id, want := range map[string]bool{"here": false, "other": true, "gone": false, "ended": false, "old": false} {
		if got := l.Get(id).MovedAway(); got != want {
			t.Errorf("%s: moved away %v, want %v", id, got, want)
		}
	}
	for id, want := range map[string]bool{"here": false, "other": true, "gone": true, "ended": false, "old": false} {
		if got := l.Get(id).Movable(); got != want {
			t.Errorf("%s: movable %v, want %v", id, got, want)
		}
	}
	if s := l.Get("other").StateText(); s != "on hold — moved to another tab" {
		t.Errorf("a moved call reads %q", s)
	}
}
