package main

import "syscall/js"

var (
	global   = js.Global()
	document = global.Get("document")
)

// query returns the first element under root matching sel, or a null js.Value.
func query(root js.Value, sel string) js.Value {
	return root.Call("querySelector", sel)
}

// queryAll returns every element under root matching sel, in document order.
func queryAll(root js.Value, sel string) []js.Value {
	list := root.Call("querySelectorAll", sel)
	out := make([]js.Value, list.Length())
	for i := range out {
		out[i] = list.Index(i)
	}
	return out
}

// present reports whether v is an element rather than null or undefined: a page may leave
// out optional parts (a page without a keypad, for example).
func present(v js.Value) bool { return v.Truthy() }

func setText(el js.Value, s string) {
	if present(el) && el.Get("textContent").String() != s {
		el.Set("textContent", s)
	}
}

// setAttr sets an attribute only when it changes, so a state push that changes nothing
// does not make assistive technology re-announce live regions.
func setAttr(el js.Value, name, value string) {
	if !present(el) {
		return
	}
	if cur := el.Call("getAttribute", name); cur.Type() == js.TypeString && cur.String() == value {
		return
	}
	el.Call("setAttribute", name, value)
}

func removeAttr(el js.Value, name string) {
	if present(el) && el.Call("hasAttribute", name).Bool() {
		el.Call("removeAttribute", name)
	}
}

// listen adds an event listener and returns the function that removes it and releases
// its js.Func. A js.Func that is never released pins its Go closure forever.
//
// The callback runs on the browser's event loop: it must not block (no channel sends that
// could wait, no network), or the whole page stops.
func listen(target js.Value, event string, fn func(ev js.Value)) (release func()) {
	f := js.FuncOf(func(this js.Value, args []js.Value) any {
		ev := js.Undefined()
		if len(args) > 0 {
			ev = args[0]
		}
		fn(ev)
		return nil
	})
	target.Call("addEventListener", event, f)
	return func() {
		target.Call("removeEventListener", event, f)
		f.Release()
	}
}

// mark records a User Timing mark, so tests and people can read when the page got
// somewhere (performance.getEntriesByName) without the client keeping its own clock.
func mark(name string) {
	if p := global.Get("performance"); present(p) && p.Get("mark").Type() == js.TypeFunction {
		p.Call("mark", name)
	}
}

// renderKeyed makes parent's children one item per key, in order. Items are kept in
// cache by key and reused, so a re-render keeps the keyboard focus on a button inside
// one: create makes the item of a new key, fill writes the i-th key's data into its
// item, and the items of keys that are gone are forgotten. The children are replaced
// only when they are not already those items in that order.
func renderKeyed(parent js.Value, cache map[string]js.Value, keys []string, create func(key string) js.Value, fill func(i int, item js.Value)) {
	keep := make(map[string]bool, len(keys))
	items := make([]js.Value, len(keys))
	for i, k := range keys {
		keep[k] = true
		item, ok := cache[k]
		if !ok {
			item = create(k)
			cache[k] = item
		}
		fill(i, item)
		items[i] = item
	}
	for k := range cache {
		if !keep[k] {
			delete(cache, k)
		}
	}
	if !sameChildren(parent, items) {
		args := make([]any, len(items))
		for i, it := range items {
			args[i] = it
		}
		parent.Call("replaceChildren", args...)
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
