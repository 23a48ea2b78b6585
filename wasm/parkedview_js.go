package main

import (
	"strconv"
	"syscall/js"
	"time"

	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/wasm/softphone"
)

// showParked renders the panel: li[data-orbit] (and data-pool, the pool holding it)
// per parked call with its parked party, who parked it, its pool when the panel names
// pools, the time left and a Retrieve button that is disabled, saying why,
// when the phase allows no retrieving. Items are updated in place, keyed by orbit.
func (v *view) showParked(p *signaling.Parked, retrieve signaling.Verdict, now time.Time) {
	setText(v.parkedPool, softphone.ParkedHeading(p))
	if !present(v.parked) {
		return
	}
	rows := softphone.ParkedRows(p, now)
	if present(v.parkedEmpty) {
		v.parkedEmpty.Set("hidden", len(rows) > 0)
	}
	keys := make([]string, len(rows))
	for i, r := range rows {
		keys[i] = r.Orbit
	}
	renderKeyed(v.parked, v.parkedItems, keys, newParkedItem, func(i int, li js.Value) {
		fillParkedItem(li, rows[i], retrieve)
	})
}

func newParkedItem(orbit string) js.Value {
	li := document.Call("createElement", "li")
	li.Get("classList").Call("add", "parked-call")
	setAttr(li, "data-orbit", orbit)
	o := span("parked-orbit", orbit)
	o.Get("classList").Call("add", "orbit")
	info := document.Call("createElement", "span")
	info.Get("classList").Call("add", "parked-info")
	info.Call("append", span("parked-peer", ""), span("parked-by", ""), span("parked-on", ""), span("parked-left", ""))
	b := document.Call("createElement", "button")
	b.Set("type", "button")
	b.Get("classList").Call("add", "btn")
	setAttr(b, "data-part", "parked-retrieve")
	b.Set("textContent", "Retrieve")
	setAttr(b, "aria-label", "Retrieve the call parked on orbit "+orbit)
	why := document.Call("createElement", "span")
	why.Get("classList").Call("add", "vh")
	why.Set("id", "why-parked-"+orbit)
	li.Call("append", o, info, b, why)
	return li
}

func fillParkedItem(li js.Value, r softphone.ParkedRow, retrieve signaling.Verdict) {
	setText(query(li, `[data-part="parked-peer"]`), r.Peer)
	by := ""
	if r.By != "" {
		by = "parked by " + r.By
	}
	setText(query(li, `[data-part="parked-by"]`), by)
	on, onText := query(li, `[data-part="parked-on"]`), ""
	if r.ShowPool {
		onText = "on " + r.Pool
	}
	setText(on, onText)
	if present(on) && on.Get("hidden").Bool() != !r.ShowPool {
		on.Set("hidden", !r.ShowPool)
	}
	if r.Pool != "" {
		setAttr(li, "data-pool", r.Pool)
	} else {
		removeAttr(li, "data-pool")
	}
	setText(query(li, `[data-part="parked-left"]`), r.Left)
	if r.Seconds >= 0 {
		setAttr(li, "data-seconds-left", strconv.Itoa(r.Seconds))
	} else {
		removeAttr(li, "data-seconds-left")
	}
	b := query(li, `[data-part="parked-retrieve"]`)
	why := query(li, ".vh")
	if b.Get("disabled").Bool() != !retrieve.Allowed {
		b.Set("disabled", !retrieve.Allowed)
	}
	if retrieve.Allowed {
		removeAttr(b, "title")
		removeAttr(b, "aria-describedby")
		setText(why, "")
		return
	}
	setAttr(b, "title", retrieve.Reason)
	setAttr(b, "aria-describedby", why.Get("id").String())
	setText(why, retrieve.Reason)
}
