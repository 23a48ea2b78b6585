package main

import (
	"strings"
	"syscall/js"

	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/wasm/softphone"
)

// input carries out one input of the page.
func (a *app) input(in any) {
	if _, api := in.(apiEvent); !api {
		a.ring.unlock()
	}
	switch in := in.(type) {
	case softphone.Press:
		if cmd, ok := a.uiCommand(in.Act); ok {
			a.run(cmd)
		}
	case softphone.HoldToggle:
		if a.calls.State(a.calls.Focus()) == signaling.CallHeld {
			a.run(softphone.Command{Act: signaling.ActionResume})
		} else {
			a.run(softphone.Command{Act: signaling.ActionHold})
		}
	case selectEvent:
		if a.calls.Choose(in.call) {
			a.callsChanged()
		}
	case moveEvent:
		a.run(softphone.Command{Act: signaling.ActionMedia, Call: in.call})
	case softphone.Digit:
		a.digit(in.Key)
	case parkedRetrieveEvent:
		a.run(softphone.Command{Act: signaling.ActionRetrieve, Orbit: in.orbit})
	case numberEvent:
		a.refresh()
	case softphone.FocusNumber:
		a.view.focus(a.view.number)
	case apiEvent:
		a.run(in.cmd)
	}
}

// uiCommand builds the command for a control from what the page holds: the Number
// field for whom to call or transfer to, the Orbit field for where to retrieve from (or,
// for Park, an orbit of one's choosing), the focus call's mute for Mute. A field the
// action cannot do without gives a problem to show instead, with the cursor put there.
func (a *app) uiCommand(act signaling.Action) (softphone.Command, bool) {
	cmd := softphone.Command{Act: act}
	v := a.view
	switch act {
	case signaling.ActionCall:
		cmd.Target = v.value(v.number)
		if a.missing(act, v.number, "Enter a name or number to call.") {
			return cmd, false
		}
	case signaling.ActionTransfer:
		cmd.Target = v.value(v.number)
	case signaling.ActionRetrieve:
		cmd.Orbit = v.value(v.orbit)
		if a.missing(act, v.orbit, "Enter the orbit number the call is parked on.") {
			return cmd, false
		}
	case signaling.ActionPark:
		cmd.Orbit = v.value(v.orbit) // optional: empty lets the park service choose
	case signaling.ActionMute:
		m := true
		if c := a.calls.Get(a.calls.Focus()); c != nil {
			m = !a.muted(c)
		}
		cmd.Muted = &m
	}
	return cmd, true
}

// missing reports whether field, which act cannot do without, is empty while act is
// allowed; it then puts the cursor there and says what to enter.
func (a *app) missing(act signaling.Action, field js.Value, what string) bool {
	if a.view.value(field) != "" || !a.verdict(act).Allowed {
		return false
	}
	a.view.focus(field)
	a.view.showAlert(softphone.Labels[act], what, "local")
	return true
}

// run carries out a command from a control or the API: names the call (the focus by
// default), checks the capability rule for that call exactly as the gateway will, then
// sends the request — after making an offer for the actions that start media. The
// outcome arrives as call messages, or as an error the gateway words.
func (a *app) run(cmd softphone.Command) {
	label := softphone.Labels[cmd.Act]
	if !a.link.Ready() {
		a.fail(cmd, label+" is unavailable", &softphone.APIError{Code: softphone.CodeNotReady, Message: a.link.WaitReason})
		return
	}
	if cmd.Act == "" {
		a.dtmf(cmd)
		return
	}
	explicit := cmd.Call != ""
	if cmd.Act != signaling.ActionCall && cmd.Act != signaling.ActionRetrieve {
		if cmd.Call == "" {
			cmd.Call = a.calls.Focus()
		} else if a.calls.Get(cmd.Call) == nil {
			a.fail(cmd, label+" failed", &softphone.APIError{Code: string(signaling.CodeNoCall), Field: "call", Message: "there is no call " + quote(cmd.Call)})
			return
		}
	}
	if cmd.Act == signaling.ActionTransfer && cmd.Consult != "" && a.calls.Get(cmd.Consult) == nil {
		a.fail(cmd, label+" failed", &softphone.APIError{Code: string(signaling.CodeNoCall), Field: "consult", Message: "there is no call " + quote(cmd.Consult)})
		return
	}
	if v := a.link.Verdict(a.calls.State(cmd.Call), cmd.Act); !v.Allowed {
		a.fail(cmd, label+" is unavailable", &softphone.APIError{Code: string(signaling.CodeRefused), Message: v.Reason})
		return
	}
	if why := a.orbitRefusal(cmd); why != "" {
		a.fail(cmd, label+" refused", &softphone.APIError{Code: string(signaling.CodeRefused), Field: "orbit", Message: why})
		return
	}
	if cmd.Act == signaling.ActionTransfer && cmd.Target == "" && cmd.Consult == "" {
		plan, ok := a.calls.PlanTransfer("")
		if !ok || (explicit && plan.Call != cmd.Call) {
			a.view.focus(a.view.number)
			a.fail(cmd, "Transfer", &softphone.APIError{Code: softphone.CodeBadCommand, Field: "target", Message: "Enter a name or number to transfer to (or hold one call and talk to the other to connect them)."})
			return
		}
		cmd.Call, cmd.Consult = plan.Call, plan.Consult
	}
	if cmd.Act == signaling.ActionMute && cmd.Muted != nil {
		a.localMute[cmd.Call] = *cmd.Muted
		if p := a.peers[cmd.Call]; p != nil {
			p.setMuted(*cmd.Muted)
		}
		if c := a.calls.Get(cmd.Call); c != nil {
			a.publishCall(c)
		}
		a.callsChanged()
	}
	if cmd.Reply == nil {
		a.view.clearAlert()
	}
	if needsOffer(cmd.Act) {
		a.prepareOffer(cmd) // sent from the loop once the offer is set
		return
	}
	id, err := a.client.send(cmd.Request())
	if err != nil {
		a.fail(cmd, label+" was not sent", &softphone.APIError{Code: softphone.CodeNotReady, Message: capitalize(err.Error()) + "."})
		return
	}
	a.sent(id, cmd)
}

// sent records a request in flight, and the API's wait for its outcome.
func (a *app) sent(id string, cmd softphone.Command) {
	a.pending[id] = cmd.Act
	if cmd.Reply != nil {
		a.waiters[id] = softphone.Waiter{Cmd: cmd, ID: id}
	}
}

// fail tells whoever asked: the API's promise, or the page's alert.
func (a *app) fail(cmd softphone.Command, title string, e *softphone.APIError) {
	if cmd.Reply != nil {
		cmd.Reply.Fail(e)
		return
	}
	a.view.showAlert(title, e.Message, e.Code)
}

// digit is a keypad key: a keypad tone on the focus call while it is connected, else
// a character typed into the Number field.
func (a *app) digit(d string) {
	if p := a.peers[a.calls.Focus()]; p != nil && a.calls.State(a.calls.Focus()) == signaling.CallActive {
		a.dtmf(softphone.Command{Digits: d})
		return
	}
	if present(a.view.number) {
		a.view.number.Set("value", a.view.number.Get("value").String()+d)
		a.refresh()
	}
}

// dtmf sends keypad tones (RFC 4733) on the focus call.
func (a *app) dtmf(cmd softphone.Command) {
	call := a.calls.Focus()
	p := a.peers[call]
	if p == nil || a.calls.State(call) != signaling.CallActive {
		a.fail(cmd, "Keypad", &softphone.APIError{Code: string(signaling.CodeRefused), Message: "There is no connected call to send keypad tones on"})
		return
	}
	if err := p.sendDTMF(cmd.Digits); err != nil {
		a.fail(cmd, "Keypad", &softphone.APIError{Code: string(signaling.CodeUnavailable), Message: capitalize(err.Error())})
		return
	}
	if present(a.view.keypadSent) {
		setText(a.view.keypadSent, lastRunes(a.view.keypadSent.Get("textContent").String()+cmd.Digits, 24))
	}
	if cmd.Reply != nil {
		cmd.Reply.OK(call)
	}
}

// verdict is the capability rule for act on the focus call, as the buttons show it.
func (a *app) verdict(act signaling.Action) signaling.Verdict {
	return a.link.Verdict(a.calls.State(a.calls.Focus()), act)
}

// refresh sets every button by the capability rule for the focus call — the same Go
// code the gateway checks requests with, so the page never offers what the gateway
// refuses — and says what Transfer will do and whether Mute is on.
func (a *app) refresh() {
	if !a.link.Ready() {
		return
	}
	c := a.link.Controls(&a.calls, a.view.value(a.view.number), a.muted)
	for act := range a.view.buttons {
		v := c.Buttons[act]
		a.view.setButton(act, v.Allowed, v.Reason)
	}
	setAttr(a.view.buttons[signaling.ActionMute], "aria-pressed", boolText(c.Muted))
	setText(a.view.transferMode, c.Transfer)
	if present(a.view.transferMode) && c.Transfer != "" && c.Buttons[signaling.ActionTransfer].Allowed {
		if a.view.transferMode.Get("id").String() == "" {
			a.view.transferMode.Set("id", "transfer-mode")
		}
		setAttr(a.view.buttons[signaling.ActionTransfer], "aria-describedby", a.view.transferMode.Get("id").String())
	}
	if c.Attended {
		setAttr(a.view.buttons[signaling.ActionTransfer], "data-transfer", "attended")
	} else {
		setAttr(a.view.buttons[signaling.ActionTransfer], "data-transfer", "blind")
	}
	setAttr(a.view.root.Get("documentElement"), "data-focus-state", string(c.FocusState))
}

// gatewayError shows an error frame, titled by the request it answers when it answers
// one of ours, and settles the API command waiting on it.
func (a *app) gatewayError(e *signaling.Error) {
	if a.iceIDs[e.Ref] {
		delete(a.iceIDs, e.Ref)
		if e.Code == signaling.CodeUnknownType && !a.noTrickle {
			// A gateway from before trickle ICE: the offer's candidates and the
			// browser's checks are enough (see webrtc_js.go).
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
		w.Cmd.Reply.Fail(&softphone.APIError{Code: string(e.Code), Message: msg, Field: e.Field})
	}
	title := "The gateway reported a problem"
	if act, ok := a.pending[e.Ref]; ok {
		delete(a.pending, e.Ref)
		title = softphone.Labels[act] + " " + verdictWord(e.Code)
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

// orbitRefusal says why a directed park or a retrieve must not be sent: its orbit is on
// a pool that is down, or on none (signaling.OrbitRefusal, as the gateway checks it).
func (a *app) orbitRefusal(cmd softphone.Command) string {
	if (cmd.Act != signaling.ActionPark && cmd.Act != signaling.ActionRetrieve) || a.link.State == nil {
		return ""
	}
	return signaling.OrbitRefusal(cmd.Orbit, a.link.State.Pools)
}
