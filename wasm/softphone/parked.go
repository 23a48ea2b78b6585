package softphone

import (
	"strconv"
	"time"

	"github.com/parkway/parkway/signaling"
)

// The live parked-calls panel (issue 6 item 4): what the gateway's parked messages say
// is parked on the pools that are up, like a busy-lamp field, with the time left before
// each rings its parker back and a Retrieve button per call. Each call names its pool
// when that says something: when the calls are on more than one pool, or on another
// than the active one (a call parked on the backup, still there after failback).

// ParkedRow is one parked call as the panel shows it.
type ParkedRow struct {
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

// ParkedRows is the panel's model at now: one row per parked call, in the gateway's
// order. Seconds left round up, so a call shows 1 s left until it is really due.
func ParkedRows(p *signaling.Parked, now time.Time) []ParkedRow {
	if p == nil {
		return nil
	}
	rows := make([]ParkedRow, 0, len(p.Calls))
	show := showPools(p)
	for _, c := range p.Calls {
		r := ParkedRow{Orbit: c.Orbit, Peer: DisplayPeer(c.Peer), By: DisplayPeer(c.ParkedBy), Seconds: -1,
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
			r.Left = strconv.Itoa(r.Seconds) + " s left"
		}
		rows = append(rows, r)
	}
	return rows
}

// ParkedHeading says which pool's park service the list is from: the active pool's,
// unless the calls name their pools (showPools).
func ParkedHeading(p *signaling.Parked) string {
	if p == nil || p.Pool == "" || showPools(p) {
		return "Parked calls"
	}
	return "Parked on " + p.Pool
}
