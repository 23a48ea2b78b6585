//go:build js && wasm

package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parkway/parkway/signaling"
)

// keepEnded is how many ended calls stay listed, newest first, so the outcome of the
// last ones can be read.
const keepEnded = 3

// listedCall is one call as the gateway last pushed it, with when it connected (for its
// timer; zero until it is first active) and when it ended.
type listedCall struct {
	signaling.Call
	connected, ended time.Time
}

// callList is the user's calls, oldest first, and which one the controls act on.
type callList struct {
	calls []*listedCall
	// chosen is the call the user picked with its select button; it stays the focus
	// while it lasts, until a new call arrives.
	chosen string
}

func (l *callList) get(id string) *listedCall {
	for _, c := range l.calls {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// state is the state of call id, CallNone when it is not listed.
func (l *callList) state(id string) signaling.CallState {
	if c := l.get(id); c != nil {
		return c.State
	}
	return signaling.CallNone
}

// update records c's latest state and reports whether the call is new. SDP is for the
// peer only and not kept. A new call takes the focus, as a ringing phone takes your eye.
func (l *callList) update(c *signaling.Call, now time.Time) bool {
	cp := *c
	cp.SDP = ""
	old := l.get(c.ID)
	if old == nil {
		lc := &listedCall{Call: cp}
		if live(cp.State) && cp.State != signaling.CallDialing && cp.State != signaling.CallRinging {
			lc.connected = now
		}
		l.calls = append(l.calls, lc)
		if cp.State != signaling.CallEnded {
			l.chosen = ""
		}
		l.trim()
		return true
	}
	if cp.Peer == "" {
		cp.Peer = old.Peer
	}
	if cp.Direction == "" {
		cp.Direction = old.Direction
	}
	if cp.State == signaling.CallEnded && old.State != signaling.CallEnded {
		old.ended = now
	}
	old.Call = cp
	if old.connected.IsZero() && (cp.State == signaling.CallActive || cp.State == signaling.CallHeld) {
		old.connected = now
	}
	l.trim()
	return false
}

// live reports whether a call in state s is still going on.
func live(s signaling.CallState) bool {
	return s != signaling.CallEnded && s != signaling.CallNone
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

// focus is the call the controls act on: the one the user chose while it lasts, else
// the newest live one — the call the gateway computes its capabilities for.
func (l *callList) focus() string {
	if c := l.get(l.chosen); c != nil && live(c.State) {
		return c.ID
	}
	for i := len(l.calls) - 1; i >= 0; i-- {
		if live(l.calls[i].State) {
			return l.calls[i].ID
		}
	}
	return ""
}

// choose makes call id the focus; it reports false for a call that is not live.
func (l *callList) choose(id string) bool {
	if c := l.get(id); c != nil && live(c.State) {
		l.chosen = id
		return true
	}
	return false
}

// liveIDs lists the calls still going on.
func (l *callList) liveIDs() []string {
	var ids []string
	for _, c := range l.calls {
		if live(c.State) {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// endedWhileDown is the reason of a call a reconnect found gone.
const endedWhileDown = "ended while the connection was down"

// reconcile ends the live calls that live does not list — the gateway's welcome after
// a reconnect — and returns their ids; the listed calls are left as they are.
func (l *callList) reconcile(live []string, now time.Time) []string {
	var gone []string
	for _, id := range l.liveIDs() {
		if slices.Contains(live, id) {
			continue
		}
		c := l.get(id).Call
		c.State, c.Reason = signaling.CallEnded, endedWhileDown
		l.update(&c, now)
		gone = append(gone, id)
	}
	return gone
}

// transferPlan is what the Transfer button will do.
type transferPlan struct {
	call, target, consult string
	// describe says it in words, for the button's description.
	describe string
}

// planTransfer decides between the two transfers (issue 4): with a target typed, a
// blind transfer of the focus call to it; with none, and exactly one held call and one
// connected call, an attended transfer that connects the held call's party with the
// connected call's (REFER with Replaces; both calls end here). ok is false when
// neither applies, and describe then says what is missing.
func (l *callList) planTransfer(target string) (p transferPlan, ok bool) {
	focus := l.get(l.focus())
	if target != "" {
		p = transferPlan{target: target, describe: "Blind transfer to " + target}
		if focus != nil {
			p.call = focus.ID
			p.describe = fmt.Sprintf("Blind transfer of %s to %s", peerName(focus), target)
		}
		return p, focus != nil
	}
	var held, active []*listedCall
	for _, c := range l.calls {
		switch c.State {
		case signaling.CallHeld:
			held = append(held, c)
		case signaling.CallActive:
			active = append(active, c)
		}
	}
	if len(held) == 1 && len(active) == 1 {
		return transferPlan{
			call:     held[0].ID,
			consult:  active[0].ID,
			describe: fmt.Sprintf("Attended transfer: connect %s with %s", peerName(held[0]), peerName(active[0])),
		}, true
	}
	return transferPlan{describe: "Type a number to transfer to, or hold one call and talk to the other to connect them"}, false
}

func peerName(c *listedCall) string {
	if n := displayPeer(c.Peer); n != "" {
		return n
	}
	return "the caller"
}

// displayPeer is who a peer is in the words a user knows: the user part of a SIP or
// tel URI ("sip:carol@pool-a;transport=tcp" is carol), or the peer as given.
func displayPeer(peer string) string {
	s := strings.TrimSpace(peer)
	if i := strings.LastIndex(s, "<"); i >= 0 { // "Carol" <sip:carol@pool-a>
		s = strings.TrimSuffix(s[i+1:], ">")
	}
	lower := strings.ToLower(s)
	for _, scheme := range []string{"sip:", "sips:", "tel:"} {
		if strings.HasPrefix(lower, scheme) {
			s = s[len(scheme):]
			break
		}
	}
	if i := strings.IndexAny(s, "@;?"); i > 0 {
		s = s[:i]
	}
	return s
}

// elapsed formats a call's duration as a timer: m:ss, or h:mm:ss from an hour on.
func elapsed(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// timerText is what a call's timer shows at now: nothing before it connects.
func (c *listedCall) timerText(now time.Time) string {
	switch {
	case c.connected.IsZero():
		return ""
	case c.State == signaling.CallEnded:
		return elapsed(c.ended.Sub(c.connected))
	}
	return elapsed(now.Sub(c.connected))
}

// stateText is the call's state in words, with why it ended.
func (c *listedCall) stateText() string {
	words := map[signaling.CallState]string{
		signaling.CallDialing: "calling…",
		signaling.CallRinging: "ringing",
		signaling.CallActive:  "connected",
		signaling.CallHeld:    "on hold",
		signaling.CallEnded:   "ended",
	}
	s, ok := words[c.State]
	if !ok {
		s = string(c.State)
	}
	if c.Reason != "" {
		s += " — " + c.Reason
	}
	if c.Orbit != "" {
		s += " (orbit " + c.Orbit + ")"
	}
	return s
}
