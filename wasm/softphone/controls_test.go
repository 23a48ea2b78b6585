package softphone

import (
	"testing"

	"github.com/parkway/parkway/signaling"
)

func notMuted(*ListedCall) bool { return false }

// Until the gateway has welcomed the tab and pushed a state, every button is disabled
// and says what the tab is waiting for.
func TestControlsWaitForTheLink(t *testing.T) {
	var calls CallList
	push(&calls, "c1", signaling.CallActive, "bob", t0)
	for _, link := range []Link{
		{WaitReason: "Connecting…"},
		{Connected: true, WaitReason: "Connecting…"},
		{State: signaling.NewState(signaling.PhaseNormal, "pool-a", "pool-a", signaling.CallNone), WaitReason: "Connecting…"},
	} {
		c := link.Controls(&calls, "", notMuted)
		if len(c.Buttons) != len(signaling.Actions) {
			t.Fatalf("%+v: %d buttons, want %d", link, len(c.Buttons), len(signaling.Actions))
		}
		for act, v := range c.Buttons {
			if v.Allowed || v.Reason != "Connecting…" {
				t.Errorf("link %+v: %s is %+v, want disabled saying Connecting…", link, act, v)
			}
		}
		if v := link.RetrieveVerdict(); v.Allowed || v.Reason != "Connecting…" {
			t.Errorf("link %+v: parked Retrieve %+v", link, v)
		}
	}
}

// The buttons follow the focus call, not the newest: a held call the user picked offers
// Resume and not Hold, and the other call offers the reverse once it is the focus.
func TestControlsFollowTheFocusCall(t *testing.T) {
	link := Link{Connected: true, State: signaling.NewState(signaling.PhaseNormal, "pool-a", "pool-a", signaling.CallNone)}
	var calls CallList
	push(&calls, "held", signaling.CallHeld, "carol", t0)
	push(&calls, "talking", signaling.CallActive, "bob", t0)

	c := link.Controls(&calls, "", notMuted)
	if c.FocusState != signaling.CallActive || !c.Buttons[signaling.ActionHold].Allowed || c.Buttons[signaling.ActionResume].Allowed {
		t.Fatalf("focus on the newest (connected) call: %+v", c)
	}
	if c.Buttons[signaling.ActionResume].Reason == "" {
		t.Error("a disabled Resume says nothing about why")
	}
	if !c.Attended || c.Transfer != "Attended transfer: connect carol with bob" {
		t.Errorf("one held and one connected call: transfer %q attended=%v", c.Transfer, c.Attended)
	}

	calls.Choose("held")
	c = link.Controls(&calls, "dave", func(l *ListedCall) bool { return l.ID == "held" })
	if c.FocusState != signaling.CallHeld || c.Buttons[signaling.ActionHold].Allowed || !c.Buttons[signaling.ActionResume].Allowed {
		t.Fatalf("focus on the chosen held call: %+v", c)
	}
	if !c.Muted {
		t.Error("Mute is not shown pressed for the muted focus call")
	}
	if c.Attended || c.Transfer != "Blind transfer of carol to dave" {
		t.Errorf("a number typed: transfer %q attended=%v", c.Transfer, c.Attended)
	}
	for act, v := range c.Buttons {
		if want := signaling.Allows(signaling.PhaseNormal, signaling.CallHeld, act); v != want {
			t.Errorf("%s: %+v, the gateway's rule says %+v", act, v, want)
		}
	}
}

// With no call there is nothing to hang up or transfer, and the Transfer text is empty;
// during an outage the phase disables even Call, with the phase's reason.
func TestControlsWithoutACallAndInAnOutage(t *testing.T) {
	var calls CallList
	normal := Link{Connected: true, State: signaling.NewState(signaling.PhaseNormal, "pool-a", "pool-a", signaling.CallNone)}
	c := normal.Controls(&calls, "bob", notMuted)
	if c.FocusState != signaling.CallNone || c.Transfer != "" || c.Muted {
		t.Fatalf("no calls: %+v", c)
	}
	if !c.Buttons[signaling.ActionCall].Allowed || c.Buttons[signaling.ActionHangup].Allowed {
		t.Errorf("no calls: Call %+v, Hang up %+v", c.Buttons[signaling.ActionCall], c.Buttons[signaling.ActionHangup])
	}
	outage := Link{Connected: true, State: signaling.NewState(signaling.PhaseOutage, "pool-a", "", signaling.CallNone)}
	c = outage.Controls(&calls, "bob", notMuted)
	call := c.Buttons[signaling.ActionCall]
	if call.Allowed || call.Reason != signaling.PhaseAllows(signaling.PhaseOutage, signaling.ActionCall).Reason || call.Reason == "" {
		t.Errorf("outage: Call %+v", call)
	}
	if v := outage.RetrieveVerdict(); v != signaling.PhaseAllows(signaling.PhaseOutage, signaling.ActionRetrieve) {
		t.Errorf("outage: parked Retrieve %+v", v)
	}
}
