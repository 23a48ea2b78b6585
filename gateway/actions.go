package gateway

import (
	"fmt"

	"github.com/parkway/parkway/signaling"
)

// calls is a session's view of its calls: its user's phone (calls.go) when the gateway
// carries calls, noCalls when it has no SIP user agent configured.
type calls interface {
	// lookup returns the state of the call with this id.
	lookup(id string) (signaling.CallState, bool)
	// focus is the state of the call the user is looking at (CallNone without calls):
	// the capabilities pushed to the softphone are computed for it.
	focus() signaling.CallState
}

type noCalls struct{}

func (noCalls) lookup(string) (signaling.CallState, bool) { return signaling.CallNone, false }
func (noCalls) focus() signaling.CallState                { return signaling.CallNone }

// msgUnavailable is honest about why an allowed action does nothing on a gateway
// without a SIP user agent (no sip section in its config).
const msgUnavailable = "%s is unavailable: this gateway has no SIP user agent configured (the sip section of its config), so it carries no calls"

// decide answers a call-control request on a gateway without SIP: every answer is an
// error, and each says exactly why, in the order the capability rule gives
// (signaling.Allows):
//
//  1. the phase refuses the action → "refused" with the phase's reason ("Park is
//     unavailable in resiliency mode"), whatever else is wrong, because that is what
//     the user needs to hear;
//  2. the request names a call that does not exist → "no-call" (field "call");
//  3. the call in question (the named one, else the focus) is in the wrong state →
//     "refused" with the rule's reason ("There is no call", "No call is ringing");
//  4. the rule allows it → "unavailable": this gateway has no SIP user agent to do it.
func decide(phase signaling.Phase, cs calls, req *signaling.Request) *signaling.Error {
	if e := check(phase, cs, req); e != nil {
		return e
	}
	return unavailable(req)
}

// unavailable is the answer to an allowed action the gateway cannot carry out.
func unavailable(req *signaling.Request) *signaling.Error {
	return &signaling.Error{Code: signaling.CodeUnavailable, Message: fmt.Sprintf(msgUnavailable, actionName(req.Action))}
}

// check is decide's steps 1–3: nil when the capability rule allows the request.
func check(phase signaling.Phase, cs calls, req *signaling.Request) *signaling.Error {
	if v := signaling.PhaseAllows(phase, req.Action); !v.Allowed {
		return &signaling.Error{Code: signaling.CodeRefused, Message: v.Reason}
	}
	state := cs.focus()
	if req.Call != "" && aboutACall(req.Action) {
		s, ok := cs.lookup(req.Call)
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

func actionName(a signaling.Action) string {
	if a == signaling.ActionHangup {
		return "Hang up" // as the button says
	}
	s := string(a)
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
