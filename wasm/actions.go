//go:build js && wasm

package main

import (
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
	"":                       "Keypad",
}

// input carries out one input of the page.
func (a *app) input(in any) {
	if _, api := in.(apiEvent); !api {
		a.ring.unlock()
	}
	switch in := in.(type) {
	case pressEvent:
		if cmd, ok := a.uiCommand(in.act); ok {
			a.run(cmd)
		}
	case holdToggleEvent:
		if a.calls.state(a.calls.focus()) == signaling.CallHeld {
			a.run(command{act: signaling.ActionResume})
		} else {
			a.run(command{act: signaling.ActionHold})
		}
	case selectEvent:
		if a.calls.choose(in.call) {
			a.callsChanged()
		}
	case digitEvent:
		a.digit(in.digit)
	case parkedRetrieveEvent:
		a.run(command{act: signaling.ActionRetrieve, orbit: in.orbit})
	case numberEvent:
		a.refresh()
	case focusNumberEvent:
		a.view.focus(a.view.number)
	case apiEvent:
		a.run(in.cmd)
	}
}

// uiCommand builds the command for a control from what the page holds: the Number
// field for whom to call or transfer to, the Orbit field for where to retrieve from (or,
// for Park, an orbit of one's choosing), the focus call's mute for Mute. A field the
// action cannot do without gives a problem to show instead, with the cursor put there.
func (a *app) uiCommand(act signaling.Action) (command, bool) {
	cmd := command{act: act}
	v := a.view
	switch act {
	case signaling.ActionCall:
		cmd.target = v.value(v.number)
		if cmd.target == "" && a.verdict(act).Allowed {
			v.focus(v.number)
			v.showAlert("Call", "Enter a name or number to call.", "local")
			return cmd, false
		}
	case signaling.ActionTransfer:
		cmd.target = v.value(v.number)
	case signaling.ActionRetrieve:
		cmd.orbit = v.value(v.orbit)
		if cmd.orbit == "" && a.verdict(act).Allowed {
			v.focus(v.orbit)
			v.showAlert("Retrieve", "Enter the orbit number the call is parked on.", "local")
			return cmd, false
		}
	case signaling.ActionPark:
		cmd.orbit = v.value(v.orbit) // optional: empty lets the park service choose
	case signaling.ActionMute:
		m := true
		if c := a.calls.get(a.calls.focus()); c != nil {
			m = !a.muted(c)
		}
		cmd.muted = &m
	}
	return cmd, true
}

// run carries out a command from a control or the API: names the call (the focus by
// default), checks the capability rule for that call exactly as the gateway will, then
// sends the request — after making an offer for the actions that start media. The
// outcome arrives as call messages, or as an error the gateway words.
func (a *app) run(cmd command) {
	label := labels[cmd.act]
	if !a.connected || a.state == nil {
		a.fail(cmd, label+" is unavailable", &apiError{Code: codeNotReady, Message: a.waitReason})
		return
	}
	if cmd.act == "" {
		a.dtmf(cmd)
		return
	}
	explicit := cmd.call != ""
	if cmd.act != signaling.ActionCall && cmd.act != signaling.ActionRetrieve {
		if cmd.call == "" {
			cmd.call = a.calls.focus()
		} else if a.calls.get(cmd.call) == nil {
			a.fail(cmd, label+" failed", &apiError{Code: string(signaling.CodeNoCall), Field: "call", Message: "there is no call " + quote(cmd.call)})
			return
		}
	}
	if cmd.act == signaling.ActionTransfer && cmd.consult != "" && a.calls.get(cmd.consult) == nil {
		a.fail(cmd, label+" failed", &apiError{Code: string(signaling.CodeNoCall), Field: "consult", Message: "there is no call " + quote(cmd.consult)})
		return
	}
	if v := signaling.Allows(a.state.Phase, a.calls.state(cmd.call), cmd.act); !v.Allowed {
		a.fail(cmd, label+" is unavailable", &apiError{Code: string(signaling.CodeRefused), Message: v.Reason})
		return
	}
	if cmd.act == signaling.ActionTransfer && cmd.target == "" && cmd.consult == "" {
		plan, ok := a.calls.planTransfer("")
		if !ok || (explicit && plan.call != cmd.call) {
			a.view.focus(a.view.number)
			a.fail(cmd, "Transfer", &apiError{Code: codeBadCommand, Field: "target", Message: "Enter a name or number to transfer to (or hold one call and talk to the other to connect them)."})
			return
		}
		cmd.call, cmd.consult = plan.call, plan.consult
	}
	if cmd.act == signaling.ActionMute && cmd.muted != nil {
		a.localMute[cmd.call] = *cmd.muted
		if p := a.peers[cmd.call]; p != nil {
			p.setMuted(*cmd.muted)
		}
		if c := a.calls.get(cmd.call); c != nil {
			a.publishCall(c)
		}
		a.callsChanged()
	}
	if cmd.reply == nil {
		a.view.clearAlert()
	}
	if needsOffer(cmd.act) {
		a.prepareOffer(cmd) // sent from the loop once the offer is set
		return
	}
	id, err := a.client.send(cmd.request())
	if err != nil {
		a.fail(cmd, label+" was not sent", &apiError{Code: codeNotReady, Message: capitalize(err.Error()) + "."})
		return
	}
	a.sent(id, cmd)
}

// sent records a request in flight, and the API's wait for its outcome.
func (a *app) sent(id string, cmd command) {
	a.pending[id] = cmd.act
	if cmd.reply != nil {
		a.waiters[id] = waiter{cmd: cmd, id: id}
	}
}

// fail tells whoever asked: the API's promise, or the page's alert.
func (a *app) fail(cmd command, title string, e *apiError) {
	if cmd.reply != nil {
		cmd.reply.fail(e)
		return
	}
	a.view.showAlert(title, e.Message, e.Code)
}

// digit is a keypad key: a keypad tone on the focus call while it is connected, else
// a character typed into the Number field.
func (a *app) digit(d string) {
	if p := a.peers[a.calls.focus()]; p != nil && a.calls.state(a.calls.focus()) == signaling.CallActive {
		a.dtmf(command{digits: d})
		return
	}
	if present(a.view.number) {
		a.view.number.Set("value", a.view.number.Get("value").String()+d)
		a.refresh()
	}
}

// dtmf sends keypad tones (RFC 4733) on the focus call.
func (a *app) dtmf(cmd command) {
	call := a.calls.focus()
	p := a.peers[call]
	if p == nil || a.calls.state(call) != signaling.CallActive {
		a.fail(cmd, "Keypad", &apiError{Code: string(signaling.CodeRefused), Message: "There is no connected call to send keypad tones on"})
		return
	}
	if err := p.sendDTMF(cmd.digits); err != nil {
		a.fail(cmd, "Keypad", &apiError{Code: string(signaling.CodeUnavailable), Message: capitalize(err.Error())})
		return
	}
	if present(a.view.keypadSent) {
		setText(a.view.keypadSent, lastRunes(a.view.keypadSent.Get("textContent").String()+cmd.digits, 24))
	}
	if cmd.reply != nil {
		cmd.reply.ok(call)
	}
}

// verdict is the capability rule for act on the focus call, as the buttons show it.
func (a *app) verdict(act signaling.Action) signaling.Verdict {
	if !a.connected || a.state == nil {
		return signaling.Verdict{Reason: a.waitReason}
	}
	return signaling.Allows(a.state.Phase, a.calls.state(a.calls.focus()), act)
}

// refresh sets every button by the capability rule for the focus call — the same Go
// code the gateway checks requests with, so the page never offers what the gateway
// refuses — and says what Transfer will do and whether Mute is on.
func (a *app) refresh() {
	if !a.connected || a.state == nil {
		return
	}
	for act := range a.view.buttons {
		v := a.verdict(act)
		a.view.setButton(act, v.Allowed, v.Reason)
	}
	focus := a.calls.get(a.calls.focus())
	muted := focus != nil && a.muted(focus)
	setAttr(a.view.buttons[signaling.ActionMute], "aria-pressed", boolText(muted))
	plan, _ := a.calls.planTransfer(a.view.value(a.view.number))
	if focus == nil {
		plan.describe = ""
	}
	setText(a.view.transferMode, plan.describe)
	if present(a.view.transferMode) && plan.describe != "" && a.verdict(signaling.ActionTransfer).Allowed {
		if a.view.transferMode.Get("id").String() == "" {
			a.view.transferMode.Set("id", "transfer-mode")
		}
		setAttr(a.view.buttons[signaling.ActionTransfer], "aria-describedby", a.view.transferMode.Get("id").String())
	}
	if plan.consult != "" {
		setAttr(a.view.buttons[signaling.ActionTransfer], "data-transfer", "attended")
	} else {
		setAttr(a.view.buttons[signaling.ActionTransfer], "data-transfer", "blind")
	}
	setAttr(a.view.root.Get("documentElement"), "data-focus-state", string(a.calls.state(a.calls.focus())))
}

// gatewayError shows an error frame, titled by the request it answers when it answers
// one of ours, and settles the API command waiting on it.
func (a *app) gatewayError(e *signaling.Error) {
	if a.iceIDs[e.Ref] {
		delete(a.iceIDs, e.Ref)
		if e.Code == signaling.CodeUnknownType && !a.noTrickle {
			// A gateway from before trickle ICE: the offer's candidates and the
			// browser's checks are enough (see webrtc.go).
			a.noTrickle = true
			global.Get("console").Call("info", "parkway: the gateway does not take trickled candidates; not sending more")
		}
		return
	}
	a.offerRefused(e)
	msg := e.Message
	if msg == "" {
		msg = string(e.Code)
	}
	// A command from the API is told too; the page shows every refusal either way, so
	// the user of a widget a host page drives sees why nothing happened.
	if w, ok := a.waiters[e.Ref]; ok {
		delete(a.waiters, e.Ref)
		w.cmd.reply.fail(&apiError{Code: string(e.Code), Message: msg, Field: e.Field})
	}
	title := "The gateway reported a problem"
	if act, ok := a.pending[e.Ref]; ok {
		delete(a.pending, e.Ref)
		title = labels[act] + " " + verdictWord(e.Code)
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

func quote(s string) string { return `"` + s + `"` }

// lastRunes keeps the last n characters of s.
func lastRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[len(r)-n:])
}
