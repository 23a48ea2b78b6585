package softphone

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parkway/parkway/signaling"
)

// keepEnded is how many ended calls stay listed, newest first, so the outcome of the
// last ones can be read.
const keepEnded = 3

// ListedCall is one call as the gateway last pushed it, with when it connected (for its
// timer; zero until it is first active) and when it ended.
type ListedCall struct {
	signaling.Call
	connected, ended time.Time
}

// CallList is the user's calls, oldest first, and which one the controls act on.
type CallList struct {
	Calls []*ListedCall
	// chosen is the call the user picked with its select button; it stays the focus
	// while it lasts, until a new call arrives.
	chosen string
}

func (l *CallList) Get(id string) *ListedCall {
	for _, c := range l.Calls {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// State is the state of call id, CallNone when it is not listed.
func (l *CallList) State(id string) signaling.CallState {
	if c := l.Get(id); c != nil {
		return c.State
	}
	return signaling.CallNone
}

// Update records c's latest state and reports whether the call is new. SDP is for the
// peer only and not kept. A new call takes the focus, as a ringing phone takes your eye.
func (l *CallList) Update(c *signaling.Call, now time.Time) bool {
	cp := *c
	cp.SDP = ""
	old := l.Get(c.ID)
	if old == nil {
		lc := &ListedCall{Call: cp}
		if live(cp.State) && cp.State != signaling.CallDialing && cp.State != signaling.CallRinging {
			lc.connected = now
		}
		l.Calls = append(l.Calls, lc)
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
func (l *CallList) trim() {
	ended := 0
	for i := len(l.Calls) - 1; i >= 0; i-- {
		if l.Calls[i].State != signaling.CallEnded {
			continue
		}
		if ended++; ended > keepEnded {
			l.Calls = append(l.Calls[:i], l.Calls[i+1:]...)
		}
	}
}

// Focus is the call the controls act on: the one the user chose while it lasts, else
// the newest live one — the call the gateway computes its capabilities for.
func (l *CallList) Focus() string {
	if c := l.Get(l.chosen); c != nil && live(c.State) {
		return c.ID
	}
	for i := len(l.Calls) - 1; i >= 0; i-- {
		if live(l.Calls[i].State) {
			return l.Calls[i].ID
		}
	}
	return ""
}

// Choose makes call id the focus; it reports false for a call that is not live.
func (l *CallList) Choose(id string) bool {
	if c := l.Get(id); c != nil && live(c.State) {
		l.chosen = id
		return true
	}
	return false
}

// LiveIDs lists the calls still going on.
func (l *CallList) LiveIDs() []string {
	var ids []string
	for _, c := range l.Calls {
		if live(c.State) {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// endedWhileDown is the reason of a call a reconnect found gone.
const endedWhileDown = "ended while the connection was down"

// Reconcile ends the live calls that live does not list — the gateway's welcome after
// a reconnect — and returns their ids; the listed calls are left as they are.
func (l *CallList) Reconcile(live []string, now time.Time) []string {
	var gone []string
	for _, id := range l.LiveIDs() {
		if slices.Contains(live, id) {
			continue
		}
		c := l.Get(id).Call
		c.State, c.Reason = signaling.CallEnded, endedWhileDown
		l.Update(&c, now)
		gone = append(gone, id)
	}
	return gone
}

// TransferPlan is what the Transfer button will do.
type TransferPlan struct {
	Call, Target, Consult string
	// Describe says it in words, for the button's description.
	Describe string
}

// PlanTransfer decides between the two transfers (issue 4): with a target typed, a
// blind transfer of the focus call to it; with none, and exactly one held call and one
// connected call, an attended transfer that connects the held call's party with the
// connected call's (REFER with Replaces; both calls end here). ok is false when
// neither applies, and Describe then says what is missing.
func (l *CallList) PlanTransfer(target string) (p TransferPlan, ok bool) {
	focus := l.Get(l.Focus())
	if target != "" {
		p = TransferPlan{Target: target, Describe: "Blind transfer to " + target}
		if focus != nil {
			p.Call = focus.ID
			p.Describe = "Blind transfer of " + PeerName(focus) + " to " + target
		}
		return p, focus != nil
	}
	var held, active []*ListedCall
	for _, c := range l.Calls {
		switch c.State {
		case signaling.CallHeld:
			held = append(held, c)
		case signaling.CallActive:
			active = append(active, c)
		}
	}
	if len(held) == 1 && len(active) == 1 {
		return TransferPlan{
			Call:     held[0].ID,
			Consult:  active[0].ID,
			Describe: "Attended transfer: connect " + PeerName(held[0]) + " with " + PeerName(active[0]),
		}, true
	}
	return TransferPlan{Describe: "Type a number to transfer to, or hold one call and talk to the other to connect them"}, false
}

func PeerName(c *ListedCall) string {
	if n := DisplayPeer(c.Peer); n != "" {
		return n
	}
	return "the caller"
}

// DisplayPeer is who a peer is in the words a user knows: the user part of a SIP or
// tel URI ("sip:carol@pool-a;transport=tcp" is carol), or the peer as given.
func DisplayPeer(peer string) string {
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
		return strconv.Itoa(s/3600) + ":" + twoDigits(s/60%60) + ":" + twoDigits(s%60)
	}
	return strconv.Itoa(s/60) + ":" + twoDigits(s%60)
}

// twoDigits is n (0–59) as two digits.
func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// TimerText is what a call's timer shows at now: nothing before it connects.
func (c *ListedCall) TimerText(now time.Time) string {
	switch {
	case c.connected.IsZero():
		return ""
	case c.State == signaling.CallEnded:
		return elapsed(c.ended.Sub(c.connected))
	}
	return elapsed(now.Sub(c.connected))
}

// StateText is the call's state in words, with why it ended.
func (c *ListedCall) StateText() string {
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
	if c.MovedAway() {
		s += " — moved to another tab"
	}
	if c.Orbit != "" {
		s += " (orbit " + c.Orbit + ")"
	}
	return s
}
