//go:build js && wasm

package main

import (
	"syscall/js"
	"time"

	"github.com/parkway/parkway/signaling"
)

// showCalls renders the call list, newest first: one li.call per call with
// data-call-id, data-call-state, data-direction, data-muted (and data-orbit once parked),
// aria-current on the focus, and inside it the peer, the state in words, the timer and
// the button that makes it the focus. Items are kept and updated in place, so a state
// push does not take the keyboard focus away from a select button.
func (v *view) showCalls(l *callList, focus string, muted func(*listedCall) bool, now time.Time) {
	if !present(v.calls) {
		return
	}
	if present(v.callsEmpty) {
		v.callsEmpty.Set("hidden", len(l.calls) > 0)
	}
	keep := map[string]bool{}
	items := make([]js.Value, 0, len(l.calls))
	for i := len(l.calls) - 1; i >= 0; i-- {
		c := l.calls[i]
		keep[c.ID] = true
		li, ok := v.callItems[c.ID]
		if !ok {
			li = newCallItem(c.ID)
			v.callItems[c.ID] = li
		}
		fillCallItem(li, c, c.ID == focus, muted(c), now)
		items = append(items, li)
	}
	for id := range v.callItems {
		if !keep[id] {
			delete(v.callItems, id)
		}
	}
	if !sameChildren(v.calls, items) {
		args := make([]any, len(items))
		for i, it := range items {
			args[i] = it
		}
		v.calls.Call("replaceChildren", args...)
	}
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
	li.Call("append", sel)
	return li
}

// fillCallItem writes c into its item, touching only what changed.
func fillCallItem(li js.Value, c *listedCall, focused, muted bool, now time.Time) {
	setAttr(li, "data-call-state", string(c.State))
	if c.Direction != "" {
		setAttr(li, "data-direction", c.Direction)
	}
	setAttr(li, "data-muted", boolText(muted))
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
	setText(query(li, `[data-part="call-peer"]`), peerName(c))
	setText(query(li, `[data-part="call-state"]`), c.stateText())
	setText(query(li, `[data-part="call-timer"]`), c.timerText(now))
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
	label := "Select the call with " + peerName(c)
	if focused {
		label = "The controls act on the call with " + peerName(c)
	}
	if ended {
		label = "The call with " + peerName(c) + " has ended"
	}
	setAttr(sel, "title", label)
}

// tickTimers updates the calls' timers only: called every second.
func (v *view) tickTimers(l *callList, now time.Time) {
	for _, c := range l.calls {
		if li, ok := v.callItems[c.ID]; ok {
			setText(query(li, `[data-part="call-timer"]`), c.timerText(now))
		}
	}
}

// sameChildren reports whether parent's children are exactly items, in order.
func sameChildren(parent js.Value, items []js.Value) bool {
	kids := parent.Get("children")
	if kids.Length() != len(items) {
		return false
	}
	for i, it := range items {
		if !kids.Index(i).Equal(it) {
			return false
		}
	}
	return true
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
