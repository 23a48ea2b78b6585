package main

import (
	"errors"
	"strconv"
	"strings"
	"syscall/js"

	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/wasm/softphone"
)

// view is the page as the client sees it: the elements it writes to, found by their
// data-part and data-action hooks. Only the loop in main_js.go touches it.
type view struct {
	root js.Value

	connection, connectionText     js.Value
	user                           js.Value
	status, statusText             js.Value
	homePool, activePool           js.Value
	alert, alertTitle, alertText   js.Value
	number, orbit                  js.Value
	calls, callsEmpty              js.Value
	signIn, signInUser, signInNote js.Value
	parkNotice                     js.Value
	parked, parkedPool             js.Value
	parkedEmpty                    js.Value
	keypad, keypadSent             js.Value
	transferMode                   js.Value

	// callItems and parkedItems are the rendered list items by call id and by orbit,
	// updated in place so a timer tick or a state push keeps the keyboard focus.
	callItems   map[string]js.Value
	parkedItems map[string]js.Value

	buttons map[signaling.Action]js.Value
	reasons map[signaling.Action]js.Value // the visually hidden "why it is disabled" text

	releases []func()
}

// bindView finds the page's parts. Only the status region and the buttons are required:
// every other part is optional, so a smaller page can leave it out.
func bindView(root js.Value) (*view, error) {
	part := func(name string) js.Value { return query(root, `[data-part="`+name+`"]`) }
	v := &view{
		root:           root,
		connection:     part("connection"),
		connectionText: part("connection-text"),
		user:           part("user"),
		status:         part("status"),
		statusText:     part("status-text"),
		homePool:       part("home-pool"),
		activePool:     part("active-pool"),
		alert:          part("alert"),
		alertTitle:     part("alert-title"),
		alertText:      part("alert-text"),
		number:         part("number"),
		orbit:          part("orbit"),
		calls:          part("calls"),
		callsEmpty:     part("calls-empty"),
		signIn:         part("signin"),
		signInUser:     part("signin-user"),
		signInNote:     part("signin-note"),
		parkNotice:     part("park-notice"),
		parked:         part("parked"),
		parkedPool:     part("parked-pool"),
		parkedEmpty:    part("parked-empty"),
		keypad:         part("keypad"),
		keypadSent:     part("keypad-sent"),
		transferMode:   part("transfer-mode"),
		callItems:      map[string]js.Value{},
		parkedItems:    map[string]js.Value{},
		buttons:        map[signaling.Action]js.Value{},
		reasons:        map[signaling.Action]js.Value{},
	}
	if !present(v.status) {
		return nil, errors.New(`the page has no [data-part="status"] element`)
	}
	var missing []string
	for _, a := range signaling.Actions {
		btn := query(root, `[data-action="`+string(a)+`"]`)
		if !present(btn) {
			missing = append(missing, string(a))
			continue
		}
		v.buttons[a] = btn
		v.reasons[a] = reasonElement(btn, a)
	}
	if len(missing) > 0 {
		return nil, errors.New("the page has no button for " + strings.Join(missing, ", "))
	}
	return v, nil
}

// reasonElement returns the visually hidden element that says why btn is disabled: the
// one its aria-describedby names in the markup, or a new one placed right after it.
func reasonElement(btn js.Value, a signaling.Action) js.Value {
	id := "why-" + string(a)
	if ref := btn.Call("getAttribute", "aria-describedby"); ref.Type() == js.TypeString && ref.String() != "" {
		id = ref.String()
	}
	if el := document.Call("getElementById", id); present(el) {
		return el
	}
	el := document.Call("createElement", "span")
	el.Set("id", id)
	el.Get("classList").Call("add", "vh")
	btn.Call("after", el)
	return el
}

// close removes every listener the view added and releases its callbacks.
func (v *view) close() {
	for _, r := range v.releases {
		r()
	}
	v.releases = nil
}

// Inputs from the page, which the loop in main_js.go carries out in order, beside
// softphone.Press, Digit, HoldToggle and FocusNumber.
type (
	selectEvent struct{ call string } // a call's select button
	moveEvent   struct{ call string } // a call's Move here button
	// parkedRetrieveEvent is a parked call's Retrieve button.
	parkedRetrieveEvent struct{ orbit string }
	numberEvent         struct{} // the Number field changed (the transfer plan may)
)

// onInput calls fn with every input of the page: a pressed control (or Enter in Number
// or Orbit, meaning Call and Retrieve), a call picked in the list, a keypad key, a
// parked call's Retrieve, a change of the Number field. fn runs in a js.Func: it must
// not block.
func (v *view) onInput(fn func(any)) {
	for a, btn := range v.buttons {
		a := a
		v.releases = append(v.releases, listen(btn, "click", func(js.Value) { fn(softphone.Press{Act: a}) }))
	}
	v.onSubmit(v.number, signaling.ActionCall, fn)
	v.onSubmit(v.orbit, signaling.ActionRetrieve, fn)
	if present(v.number) {
		v.releases = append(v.releases, listen(v.number, "input", func(js.Value) { fn(numberEvent{}) }))
	}
	// The lists are re-rendered, so their buttons are reached by delegation.
	if present(v.calls) {
		v.releases = append(v.releases, listen(v.calls, "click", func(ev js.Value) {
			if b := closest(ev.Get("target"), `button[data-part="call-select"]`); present(b) {
				if li := closest(b, "li[data-call-id]"); present(li) {
					fn(selectEvent{li.Call("getAttribute", "data-call-id").String()})
				}
			}
			if b := closest(ev.Get("target"), `button[data-part="call-move"]`); present(b) {
				if li := closest(b, "li[data-call-id]"); present(li) {
					fn(moveEvent{li.Call("getAttribute", "data-call-id").String()})
				}
			}
		}))
	}
	if present(v.parked) {
		v.releases = append(v.releases, listen(v.parked, "click", func(ev js.Value) {
			if b := closest(ev.Get("target"), `button[data-part="parked-retrieve"]`); present(b) {
				if li := closest(b, "li[data-orbit]"); present(li) {
					fn(parkedRetrieveEvent{li.Call("getAttribute", "data-orbit").String()})
				}
			}
		}))
	}
	if present(v.keypad) {
		v.releases = append(v.releases, listen(v.keypad, "click", func(ev js.Value) {
			if b := closest(ev.Get("target"), "button[data-digit]"); present(b) {
				fn(softphone.Digit{Key: b.Call("getAttribute", "data-digit").String()})
			}
		}))
	}
}

// closest is el's nearest ancestor (or itself) matching sel, or null.
func closest(el js.Value, sel string) js.Value {
	if !present(el) || el.Get("closest").Type() != js.TypeFunction {
		return js.Null()
	}
	return el.Call("closest", sel)
}

// onSubmit makes Enter in input's form mean action — if that action is allowed now, as
// if its button were pressed; the loop checks.
func (v *view) onSubmit(input js.Value, a signaling.Action, fn func(any)) {
	if !present(input) || !present(input.Get("form")) {
		return
	}
	v.releases = append(v.releases, listen(input.Get("form"), "submit", func(ev js.Value) {
		ev.Call("preventDefault")
		fn(softphone.Press{Act: a})
	}))
}

// onSignIn calls fn with the name submitted in the sign-in form.
func (v *view) onSignIn(fn func(user string)) {
	if !present(v.signIn) {
		return
	}
	v.releases = append(v.releases, listen(v.signIn, "submit", func(ev js.Value) {
		ev.Call("preventDefault")
		if name := v.value(v.signInUser); name != "" {
			fn(name)
		}
	}))
}

// onDismiss hides the alert when its dismiss button is pressed.
func (v *view) onDismiss() {
	if b := query(v.root, `[data-part="alert-dismiss"]`); present(b) {
		v.releases = append(v.releases, listen(b, "click", func(js.Value) { v.clearAlert() }))
	}
}

func (v *view) value(input js.Value) string {
	if !present(input) {
		return ""
	}
	return strings.TrimSpace(input.Get("value").String())
}

func (v *view) focus(el js.Value) {
	if present(el) {
		el.Call("focus")
	}
}

// showConnection renders where the link to the gateway stands.
func (v *view) showConnection(ev connEvent) {
	text := map[connStatus]string{
		connConnecting: "Connecting…",
		connConnected:  "Connected",
		connSignedOut:  "Signed out",
	}[ev.status]
	if ev.status == connReconnecting {
		text = "Reconnecting…"
		if ev.attempt > 0 {
			text = "Reconnecting… (attempt " + strconv.Itoa(ev.attempt) + ")"
		}
	}
	setAttr(v.connection, "data-connection", string(ev.status))
	setAttr(v.root.Get("documentElement"), "data-connection", string(ev.status))
	setText(v.connectionText, text)
	if ev.detail != "" && ev.status != connConnected {
		setAttr(v.connection, "title", ev.detail)
	} else {
		removeAttr(v.connection, "title")
	}
	if present(v.signIn) {
		v.signIn.Set("hidden", ev.status != connSignedOut)
		if ev.status == connSignedOut {
			setText(v.signInNote, ev.detail)
		}
	}
}

// showUser names the signed-in user.
func (v *view) showUser(name string) { setText(v.user, name) }

// waiting is the page between connections: nothing can be asked of a gateway that is not
// there, so every button is disabled and says what is going on. The last phase stays on
// show, marked stale, because it is still the best guess of how the pools stand.
func (v *view) waiting(reason string, everConnected bool) {
	for a := range v.buttons {
		v.setButton(a, false, reason)
	}
	if everConnected {
		setAttr(v.status, "data-stale", "true")
	} else {
		setText(v.statusText, reason)
	}
}

// showState renders a pushed state: the pools, the phase's words, and data-phase last —
// so anything that watches data-phase (a test, a host page) finds the rest of the state,
// the buttons included (the loop sets them first), already in place.
func (v *view) showState(s *signaling.State) {
	setText(v.homePool, s.HomePool)
	setText(v.activePool, s.ActivePool)
	text := s.Status
	if text == "" {
		text = s.Phase.Describe()
	}
	setText(v.statusText, text)
	setAttr(v.status, "data-resiliency", strconv.FormatBool(s.Resiliency))
	removeAttr(v.status, "data-stale")
	setAttr(v.status, "data-phase", string(s.Phase))
}

// setButton enables or disables one control. A disabled one says why twice: in title
// (a pointer user's tooltip) and in the element aria-describedby points to (what a screen
// reader reads after the button's name).
func (v *view) setButton(a signaling.Action, allowed bool, reason string) {
	btn := v.buttons[a]
	if btn.Get("disabled").Bool() != !allowed {
		btn.Set("disabled", !allowed)
	}
	if allowed {
		removeAttr(btn, "title")
		removeAttr(btn, "aria-describedby")
		setText(v.reasons[a], "")
		return
	}
	if reason == "" {
		reason = "Unavailable"
	}
	setAttr(btn, "title", reason)
	setAttr(btn, "aria-describedby", v.reasons[a].Get("id").String())
	setText(v.reasons[a], reason)
}

// showAlert shows a problem in the alert region, which assistive technology announces.
// code is the gateway's error code, or "local" for one the page found itself.
func (v *view) showAlert(title, message, code string) {
	if !present(v.alert) {
		global.Get("console").Call("warn", "parkway:", title, message)
		return
	}
	setText(v.alertTitle, title)
	setText(v.alertText, message)
	setAttr(v.alert, "data-code", code)
	v.alert.Set("hidden", false)
}

// clearOrbit empties the Orbit field after a park or retrieve it served.
func (v *view) clearOrbit() {
	if present(v.orbit) {
		v.orbit.Set("value", "")
	}
}

func (v *view) clearAlert() {
	if present(v.alert) && !v.alert.Get("hidden").Bool() {
		v.alert.Set("hidden", true)
		setText(v.alertTitle, "")
		setText(v.alertText, "")
		removeAttr(v.alert, "data-code")
	}
}

// markReady records the first moment the page could be used: connected, state shown.
func (v *view) markReady() {
	setAttr(v.root.Get("documentElement"), "data-ready", "true")
	mark("parkway-ready")
}
