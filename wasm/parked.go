//go:build js && wasm

package main

import (
	"fmt"
	"syscall/js"
	"time"

	"github.com/parkway/parkway/signaling"
)

// The live parked-calls panel (issue 6 item 4): what the gateway's parked messages say
// is parked on the pools that are up, like a busy-lamp field, with the time left before
// each rings its parker back and a Retrieve button per call. Each call names its pool
// when that says something: when the calls are on more than one pool, or on another
// than the active one (a call parked on the backup, still there after failback).

// parkedRow is one parked call as the panel shows it.
type parkedRow struct {
	Orbit, Peer, By string
	// Left is the pickup time left in words ("42 s left"), or what is happening
	// instead ("ringing back", "no timeout").
	Left string
	// Seconds is the time left in whole seconds, -1 without a timeout.
	Seconds int
	// Pool is the pool holding the call ("": not said); ShowPool whether the panel
	// names it (see showPools).
	Pool     string
	ShowPool bool
}

// showPools says whether the panel names each call's pool: when its calls are on more
// than one pool, or on another than the active one.
func showPools(p *signaling.Parked) bool {
	if p == nil {
		return false
	}
	for _, c := range p.Calls {
		if c.Pool != "" && c.Pool != p.Pool {
			return true
		}
	}
	return false
}

// parkedRows is the panel's model at now: one row per parked call, in the gateway's
// order. Seconds left round up, so a call shows 1 s left until it is really due.
func parkedRows(p *signaling.Parked, now time.Time) []parkedRow {
	if p == nil {
		return nil
	}
	rows := make([]parkedRow, 0, len(p.Calls))
	show := showPools(p)
	for _, c := range p.Calls {
		r := parkedRow{Orbit: c.Orbit, Peer: displayPeer(c.Peer), By: displayPeer(c.ParkedBy), Seconds: -1,
			Pool: c.Pool, ShowPool: show && c.Pool != ""}
		if r.Peer == "" {
			r.Peer = "unknown caller"
		}
		switch {
		case c.State == "ringing-back":
			r.Left = "ringing back"
		case c.Expires == 0:
			r.Left = "no timeout"
		default:
			ms := c.Expires - now.UnixMilli()
			if ms < 0 {
				ms = 0
			}
			r.Seconds = int((ms + 999) / 1000)
			r.Left = fmt.Sprintf("%d s left", r.Seconds)
		}
		rows = append(rows, r)
	}
	return rows
}

// parkedHeading says which pool's park service the list is from: the active pool's,
// unless the calls name their pools (showPools).
func parkedHeading(p *signaling.Parked) string {
	if p == nil || p.Pool == "" || showPools(p) {
		return "Parked calls"
	}
	return "Parked on " + p.Pool
}

// showParked renders the panel: li[data-orbit] (and data-pool, the pool holding it)
// per parked call with its parked party, who parked it, its pool when the panel names
// pools, the time left and a Retrieve button that is disabled, saying why,
// when the phase allows no retrieving. Items are updated in place, keyed by orbit.
func (v *view) showParked(p *signaling.Parked, retrieve signaling.Verdict, now time.Time) {
	setText(v.parkedPool, parkedHeading(p))
	if !present(v.parked) {
		return
	}
	rows := parkedRows(p, now)
	if present(v.parkedEmpty) {
		v.parkedEmpty.Set("hidden", len(rows) > 0)
	}
	keep := map[string]bool{}
	items := make([]js.Value, 0, len(rows))
	for _, r := range rows {
		keep[r.Orbit] = true
		li, ok := v.parkedItems[r.Orbit]
		if !ok {
			li = newParkedItem(r.Orbit)
			v.parkedItems[r.Orbit] = li
		}
		fillParkedItem(li, r, retrieve)
		items = append(items, li)
	}
	for orbit := range v.parkedItems {
		if !keep[orbit] {
			delete(v.parkedItems, orbit)
		}
	}
	if !sameChildren(v.parked, items) {
		args := make([]any, len(items))
		for i, it := range items {
			args[i] = it
		}
		v.parked.Call("replaceChildren", args...)
	}
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

func fillParkedItem(li js.Value, r parkedRow, retrieve signaling.Verdict) {
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
		setAttr(li, "data-seconds-left", fmt.Sprint(r.Seconds))
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
