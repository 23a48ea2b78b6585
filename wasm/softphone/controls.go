package softphone

import "github.com/parkway/parkway/signaling"

// Labels are the buttons' names, for messages about them.
var Labels = map[signaling.Action]string{
	signaling.ActionCall:     "Call",
	signaling.ActionAnswer:   "Answer",
	signaling.ActionDecline:  "Decline",
	signaling.ActionHangup:   "Hang up",
	signaling.ActionHold:     "Hold",
	signaling.ActionResume:   "Resume",
	signaling.ActionTransfer: "Transfer",
	signaling.ActionPark:     "Park",
	signaling.ActionRetrieve: "Retrieve",
	signaling.ActionMute:     "Mute",
	signaling.ActionMedia:    LabelMoveHere,
	"":                       "Keypad",
}

// Link is what the controls depend on beside the calls: whether the gateway is there
// (between its welcome and the link failing), the pool state it last pushed (nil until
// the first), and why nothing can be done while either is missing.
type Link struct {
	Connected  bool
	State      *signaling.State
	WaitReason string
}

// Ready reports whether requests can be made: connected, with a state pushed.
func (l Link) Ready() bool { return l.Connected && l.State != nil }

// Verdict is the capability rule for act on a call in state focus — the same Go code
// the gateway checks every request with — or, while the link is not ready, no with
// the reason it is waiting.
func (l Link) Verdict(focus signaling.CallState, act signaling.Action) signaling.Verdict {
	if !l.Ready() {
		return signaling.Verdict{Reason: l.WaitReason}
	}
	return signaling.Allows(l.State.Phase, focus, act)
}

// RetrieveVerdict is whether the parked panel's Retrieve buttons work: retrieving
// takes no call of the user's, so only the phase decides.
func (l Link) RetrieveVerdict() signaling.Verdict {
	if !l.Ready() {
		return signaling.Verdict{Reason: l.WaitReason}
	}
	return signaling.PhaseAllows(l.State.Phase, signaling.ActionRetrieve)
}

// Controls is how the page's controls stand for the focus call.
type Controls struct {
	// Buttons has every action's button: enabled or not, and why not.
	Buttons map[signaling.Action]signaling.Verdict
	// Muted is the Mute button's pressed state: the focus call's microphone is off.
	Muted bool
	// Transfer says what the Transfer button will do; "" without a focus call.
	Transfer string
	// Attended is true when that is the attended transfer (two calls connected),
	// false for a blind one.
	Attended bool
	// FocusState is the focus call's state, CallNone without one.
	FocusState signaling.CallState
}

// Controls computes the controls for the calls in l, with number the Number field's
// text (whom Transfer would go to) and muted the microphone state of a call.
func (l Link) Controls(calls *CallList, number string, muted func(*ListedCall) bool) Controls {
	focus := calls.Get(calls.Focus())
	c := Controls{Buttons: map[signaling.Action]signaling.Verdict{}, FocusState: signaling.CallNone}
	if focus != nil {
		c.FocusState = focus.State
		c.Muted = muted(focus)
	}
	for _, act := range signaling.Actions {
		c.Buttons[act] = l.Verdict(c.FocusState, act)
	}
	plan, _ := calls.PlanTransfer(number)
	if focus != nil {
		c.Transfer = plan.Describe
	}
	c.Attended = plan.Consult != ""
	return c
}
