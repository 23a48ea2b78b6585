//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/parkway/parkway/signaling"
)

// Keyboard shortcuts, documented on the page: A answer, D decline, H hold or resume,
// M mute, Esc hang up, N the Number field, and 0-9 * # the keypad. None of them acts
// while the user types in a field — there Enter alone means Call (or Retrieve in
// Orbit), through the field's form — nor with Ctrl, Alt or Meta held, which belong to
// the browser.

// focusNumberEvent is the N key: put the cursor in the Number field.
type focusNumberEvent struct{}

// shortcut maps a key to the input it stands for. typing says the key went to a text
// field; modified that Ctrl, Alt or Meta was held.
func shortcut(key string, typing, modified bool) (any, bool) {
	if typing || modified {
		return nil, false
	}
	switch key {
	case "a", "A":
		return pressEvent{signaling.ActionAnswer}, true
	case "d", "D":
		return pressEvent{signaling.ActionDecline}, true
	case "h", "H":
		return holdToggleEvent{}, true
	case "m", "M":
		return pressEvent{signaling.ActionMute}, true
	case "Escape":
		return pressEvent{signaling.ActionHangup}, true
	case "n", "N":
		return focusNumberEvent{}, true
	case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#":
		return digitEvent{key}, true
	}
	return nil, false
}

// listenKeys sends the shortcuts pressed on the page to fn, which must not block.
func listenKeys(fn func(any)) (release func()) {
	return listen(document, "keydown", func(ev js.Value) {
		if ev.Get("defaultPrevented").Bool() || ev.Get("repeat").Bool() {
			return
		}
		modified := ev.Get("ctrlKey").Bool() || ev.Get("altKey").Bool() || ev.Get("metaKey").Bool()
		in, ok := shortcut(ev.Get("key").String(), typingIn(ev.Get("target")), modified)
		if !ok {
			return
		}
		ev.Call("preventDefault")
		fn(in)
	})
}

// typingIn reports whether el takes text: an input, a textarea, a select or an
// editable element.
func typingIn(el js.Value) bool {
	if !present(el) {
		return false
	}
	switch el.Get("tagName").String() {
	case "INPUT", "TEXTAREA", "SELECT":
		return true
	}
	return el.Get("isContentEditable").Truthy()
}
