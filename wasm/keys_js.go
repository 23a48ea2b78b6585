package main

import (
	"syscall/js"

	"github.com/parkway/parkway/wasm/softphone"
)

// listenKeys sends the shortcuts pressed on the page to fn, which must not block.
func listenKeys(fn func(any)) (release func()) {
	return listen(document, "keydown", func(ev js.Value) {
		if ev.Get("defaultPrevented").Bool() || ev.Get("repeat").Bool() {
			return
		}
		modified := ev.Get("ctrlKey").Bool() || ev.Get("altKey").Bool() || ev.Get("metaKey").Bool()
		in, ok := softphone.Shortcut(ev.Get("key").String(), typingIn(ev.Get("target")), modified)
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
