//go:build js && wasm

package main

import (
	"fmt"
	"strings"

	"github.com/parkway/parkway/signaling"
)

// labels are the buttons' names, for messages about them.
var labels = map[signaling.Action]string{
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
}

// request builds the request for action a from what the page holds: the Number field
// for whom to call or transfer to, the Orbit field for where to retrieve from (or, for
// Park, an orbit of one's choosing), and the call in focus. A field the action cannot do
// without gives a problem to show instead, and the field to put the cursor in.
func (a *app) request(act signaling.Action) (*signaling.Request, string, bool) {
	req := &signaling.Request{Action: act, Call: a.focusCall}
	v := a.view
	switch act {
	case signaling.ActionCall, signaling.ActionTransfer:
		req.Target = v.value(v.number)
		if req.Target == "" {
			verb := "call"
			if act == signaling.ActionTransfer {
				verb = "transfer to"
			}
			v.focus(v.number)
			return nil, fmt.Sprintf("Enter a name or number to %s.", verb), false
		}
	case signaling.ActionRetrieve:
		req.Orbit = v.value(v.orbit)
		if req.Orbit == "" {
			v.focus(v.orbit)
			return nil, "Enter the orbit number the call is parked on.", false
		}
	case signaling.ActionPark:
		req.Orbit = v.value(v.orbit) // optional: empty lets the park service choose
	}
	return req, "", true
}

// do carries out a button press (or Enter in a form): checks that the button is enabled
// — Enter in a field bypasses a disabled button — and sends the request. The outcome
// arrives as a state push, or as an error the gateway words.
func (a *app) do(act signaling.Action) {
	label := labels[act]
	if ok, why := a.view.allowed(act); !ok {
		a.view.showAlert(label+" is unavailable", why, "local")
		return
	}
	req, problem, ok := a.request(act)
	if !ok {
		a.view.showAlert(label, problem, "local")
		return
	}
	a.view.clearAlert()
	if needsOffer(act) {
		a.prepareOffer(req) // sent from the loop once the offer is complete
		return
	}
	id, err := a.client.send(req)
	if err != nil {
		a.view.showAlert(label+" was not sent", capitalize(err.Error())+".", "local")
		return
	}
	a.pending[id] = act
}

// showGatewayError shows an error frame, titled by the request it answers when it
// answers one of ours.
func (a *app) showGatewayError(e *signaling.Error) {
	title := "The gateway reported a problem"
	if act, ok := a.pending[e.Ref]; ok {
		delete(a.pending, e.Ref)
		title = labels[act] + " " + verdictWord(e.Code)
	}
	msg := e.Message
	if msg == "" {
		msg = string(e.Code)
	}
	a.view.showAlert(title, msg, string(e.Code))
}

func verdictWord(c signaling.ErrorCode) string {
	switch c {
	case signaling.CodeRefused:
		return "refused"
	case signaling.CodeUnavailable:
		return "unavailable"
	default:
		return "failed"
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
