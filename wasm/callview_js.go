package main

import (
	"syscall/js"
	"time"

	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/wasm/softphone"
)

// showCalls renders the call list, newest first: one li.call per call with
// data-call-id, data-call-state, data-direction, data-muted, data-media (where its audio
// is: here, elsewhere, needed) and data-orbit once parked,
// aria-current on the focus, and inside it the peer, the state in words, the timer and
// the button that makes it the focus. Items are kept and updated in place, so a state
// push does not take the keyboard focus away from a select button.
func (v *view) showCalls(l *softphone.CallList, focus string, muted func(*softphone.ListedCall) bool, now time.Time) {
	if !present(v.calls) {
		return
	}
	if present(v.callsEmpty) {
		v.callsEmpty.Set("hidden", len(l.Calls) > 0)
	}
	keys := make([]string, 0, len(l.Calls))
	for i := len(l.Calls) - 1; i >= 0; i-- {
		keys = append(keys, l.Calls[i].ID)
	}
	renderKeyed(v.calls, v.callItems, keys, newCallItem, func(i int, li js.Value) {
		c := l.Calls[len(l.Calls)-1-i]
		fillCallItem(li, c, c.ID == focus, muted(c), now)
	})
}

func newCallItem(id string) js.Value {
	li := document.Call("createElement", "li")
	li.Get("classList").Call("add", "call")
	setAttr(li, "data-call-id", id)
	sel := document.Call("createElement", "button")
	sel.Set("type", "button")
	sel.Get("classList").Call("add", "call-select")
	setAttr(sel, "data-part", "call-select")
	main := document.Call("createElement", "span")
	main.Get("classList").Call("add", "call-main")
	main.Call("append", span("call-peer", ""), span("call-state", ""))
	sel.Call("append", main, span("call-timer", ""))
	// Shown while the call is live on another tab of the user (issue 10).
	move := document.Call("createElement", "button")
	move.Set("type", "button")
	move.Get("classList").Call("add", "call-move")
	setAttr(move, "data-part", "call-move")
	move.Set("textContent", softphone.LabelMoveHere)
	move.Set("hidden", true)
	li.Call("append", sel, move)
	return li
}

// fillCallItem writes c into its item, touching only what changed.
func fillCallItem(li js.Value, c *softphone.ListedCall, focused, muted bool, now time.Time) {
	setAttr(li, "data-call-state", string(c.State))
	if c.Direction != "" {
		setAttr(li, "data-direction", c.Direction)
	}
	setAttr(li, "data-muted", boolText(muted))
	if c.Media != "" {
		setAttr(li, "data-media", c.Media)
	} else {
		removeAttr(li, "data-media")
	}
	if move := query(li, `[data-part="call-move"]`); present(move) && move.Get("hidden").Bool() == c.Movable() {
		move.Set("hidden", !c.Movable())
		setAttr(move, "title", "Take the call with "+softphone.PeerName(c)+" onto this tab")
	}
	if c.Orbit != "" {
		setAttr(li, "data-orbit", c.Orbit)
	} else {
		removeAttr(li, "data-orbit")
	}
	if focused {
		setAttr(li, "aria-current", "true")
	} else {
		removeAttr(li, "aria-current")
	}
	setText(query(li, `[data-part="call-peer"]`), softphone.PeerName(c))
	setText(query(li, `[data-part="call-state"]`), c.StateText())
	setText(query(li, `[data-part="call-timer"]`), c.TimerText(now))
	sel := query(li, `[data-part="call-select"]`)
	ended := c.State == signaling.CallEnded
	if sel.Get("disabled").Bool() != ended {
		sel.Set("disabled", ended)
	}
	if focused {
		setAttr(sel, "aria-current", "true")
	} else {
		removeAttr(sel, "aria-current")
	}
	label := "Select the call with " + softphone.PeerName(c)
	if focused {
		label = "The controls act on the call with " + softphone.PeerName(c)
	}
	if ended {
		label = "The call with " + softphone.PeerName(c) + " has ended"
	}
	setAttr(sel, "title", label)
}

// tickTimers updates the calls' timers only: called every second.
func (v *view) tickTimers(l *softphone.CallList, now time.Time) {
	for _, c := range l.Calls {
		if li, ok := v.callItems[c.ID]; ok {
			setText(query(li, `[data-part="call-timer"]`), c.TimerText(now))
		}
	}
}

func span(part, text string) js.Value {
	s := document.Call("createElement", "span")
	setAttr(s, "data-part", part)
	s.Set("textContent", text)
	return s
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
