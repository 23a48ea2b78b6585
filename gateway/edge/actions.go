package edge

import (
	"fmt"

	"github.com/parkway/parkway/signaling"
)

// Phone carries the calls of a gateway's sessions (package phone): the edge hands it
// every session that authenticates and, through the Calls it returns, every call
// frame of that session. The edge knows nothing else of calls.
type Phone interface {
	// Join greets sess, which authenticated as sess.User() with the auth frame id: it
	// queues the welcome w (the calls it lists are the phone's to fill in), then the
	// current state (QueueState) and what else the tab must learn before the pushed
	// states. It returns the user's calls, through which the edge passes every call
	// frame of sess from then on.
	Join(sess *Session, id string, w *signaling.Welcome) Calls
}

// Calls is a session's view of its user's calls, and where its call frames go.
type Calls interface {
	// Lookup returns the state of the call with this id.
	Lookup(id string) (signaling.CallState, bool)
	// Focus is the state of the call the user is looking at (CallNone without calls):
	// the capabilities pushed to the softphone are computed for it. The hub calls it
	// under its lock.
	Focus() signaling.CallState
	// Act carries out a request the capability rule allowed, in the background: every
	// answer, now or later, goes to sess with Reply and the request's id.
	Act(sess *Session, id string, req *signaling.Request)
	// Trickled takes an ICE candidate sess sent in frame id; it reports whether the
	// session goes on.
	Trickled(sess *Session, id string, m *signaling.ICE) bool
	// LiveIDs are the ids of the calls going on, oldest first (a refreshed welcome).
	LiveIDs() []string
	// Leave: sess has ended.
	Leave(sess *Session)
}

// NoCalls are the calls of a session on a gateway that carries none (no sip section in
// its config), or before auth: there are none, and every allowed action is
// "unavailable".
type NoCalls struct{}

func (NoCalls) Lookup(string) (signaling.CallState, bool) { return signaling.CallNone, false }
func (NoCalls) Focus() signaling.CallState                { return signaling.CallNone }
func (NoCalls) LiveIDs() []string                         { return nil }
func (NoCalls) Leave(*Session)                            {}

// Act answers that the allowed action is unavailable.
func (NoCalls) Act(sess *Session, id string, req *signaling.Request) {
	e := Unavailable(req)
	e.Ref = id
	sess.Reply(id, e)
}

// Trickled refuses the candidate: no action of the tab has media.
func (NoCalls) Trickled(sess *Session, id string, m *signaling.ICE) bool {
	e := NoMedia(m.Ref)
	e.Ref = id
	return sess.Reply(id, e)
}

// NoMedia is the answer to a candidate whose ref names no media action of the tab.
func NoMedia(ref string) *signaling.Error {
	return &signaling.Error{Code: signaling.CodeNoCall, Field: "ref", Message: fmt.Sprintf("no call, answer or retrieve %q of this tab has media to take candidates", ref)}
}

// msgUnavailable is honest about why an allowed action does nothing on a gateway
// without a SIP user agent (no sip section in its config).
const msgUnavailable = "%s is unavailable: this gateway has no SIP user agent configured (the sip section of its config), so it carries no calls"

// Unavailable is the answer to an allowed action a gateway without calls cannot carry
// out.
func Unavailable(req *signaling.Request) *signaling.Error {
	return &signaling.Error{Code: signaling.CodeUnavailable, Message: fmt.Sprintf(msgUnavailable, ActionName(req.Action))}
}

// check answers a call-control request the capability rule refuses, nil when it
// allows it. Each refusal says exactly why, in the order the rule gives
// (signaling.Allows):
//
//  1. the phase refuses the action → "refused" with the phase's reason ("Park is
//     unavailable in resiliency mode"), whatever else is wrong, because that is what
//     the user needs to hear;
//  2. the request names a call that does not exist → "no-call" (field "call");
//  3. the call in question (the named one, else the focus) is in the wrong state →
//     "refused" with the rule's reason ("There is no call", "No call is ringing").
//
// An allowed request goes to Calls.Act ("unavailable" from NoCalls).
func check(phase signaling.Phase, cs Calls, req *signaling.Request) *signaling.Error {
	if v := signaling.PhaseAllows(phase, req.Action); !v.Allowed {
		return &signaling.Error{Code: signaling.CodeRefused, Message: v.Reason}
	}
	state := cs.Focus()
	if req.Call != "" && aboutACall(req.Action) {
		s, ok := cs.Lookup(req.Call)
		if !ok {
			return &signaling.Error{Code: signaling.CodeNoCall, Field: "call", Message: fmt.Sprintf("there is no call %q", req.Call)}
		}
		state = s
	}
	if v := signaling.CallAllows(state, req.Action); !v.Allowed {
		return &signaling.Error{Code: signaling.CodeRefused, Message: v.Reason}
	}
	return nil
}

// aboutACall: call and retrieve start a new call; every other action acts on one.
func aboutACall(a signaling.Action) bool {
	return a != signaling.ActionCall && a != signaling.ActionRetrieve
}

// ActionName is the action as its button says it ("Hang up", "Park").
func ActionName(a signaling.Action) string {
	if a == signaling.ActionHangup {
		return "Hang up" // as the button says
	}
	s := string(a)
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
