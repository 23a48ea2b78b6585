//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/parkway/parkway/signaling"
)

// keepEnded is how many ended calls stay listed, newest first, so the outcome of the
// last ones can be read.
const keepEnded = 3

// callList is the user's calls as the gateway last pushed them, oldest first.
type callList struct{ calls []*signaling.Call }

// update records c's latest state. SDP is for the peer only and not kept.
func (l *callList) update(c *signaling.Call) {
	cp := *c
	cp.SDP = ""
	for i, old := range l.calls {
		if old.ID == c.ID {
			if cp.Peer == "" {
				cp.Peer = old.Peer
			}
			if cp.Direction == "" {
				cp.Direction = old.Direction
			}
			l.calls[i] = &cp
			l.trim()
			return
		}
	}
	l.calls = append(l.calls, &cp)
	l.trim()
}

// trim forgets all but the newest keepEnded ended calls.
func (l *callList) trim() {
	ended := 0
	for i := len(l.calls) - 1; i >= 0; i-- {
		if l.calls[i].State != signaling.CallEnded {
			continue
		}
		if ended++; ended > keepEnded {
			l.calls = append(l.calls[:i], l.calls[i+1:]...)
		}
	}
}

// focus is the call the controls act on: the newest live one, as the gateway computes
// the capabilities for.
func (l *callList) focus() string {
	for i := len(l.calls) - 1; i >= 0; i-- {
		if l.calls[i].State != signaling.CallEnded {
			return l.calls[i].ID
		}
	}
	return ""
}

// showCalls renders the list: one item per call with its peer, its state (and why it
// ended), data-call-id and data-call-state.
func (v *view) showCalls(l *callList) {
	if !present(v.calls) {
		return
	}
	if present(v.callsEmpty) {
		v.callsEmpty.Set("hidden", len(l.calls) > 0)
	}
	focus := l.focus()
	items := make([]any, 0, len(l.calls))
	for i := len(l.calls) - 1; i >= 0; i-- {
		c := l.calls[i]
		li := document.Call("createElement", "li")
		li.Get("classList").Call("add", "call")
		setAttr(li, "data-call-id", c.ID)
		setAttr(li, "data-call-state", string(c.State))
		if c.Direction != "" {
			setAttr(li, "data-direction", c.Direction)
		}
		if c.ID == focus {
			setAttr(li, "aria-current", "true")
		}
		peer := span("call-peer", c.Peer)
		state := string(c.State)
		if c.Reason != "" {
			state += " — " + c.Reason
		}
		if c.Orbit != "" {
			state += " (orbit " + c.Orbit + ")"
		}
		li.Call("append", peer, " ", span("call-state", state))
		items = append(items, li)
	}
	v.calls.Call("replaceChildren", items...)
}

func span(part, text string) js.Value {
	s := document.Call("createElement", "span")
	setAttr(s, "data-part", part)
	s.Set("textContent", text)
	return s
}
