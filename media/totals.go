package media

import "sync"

// Totals is what every leg of a Factory has relayed: Stats summed over the live legs
// and those already closed, how many are live, and the largest jitter among them.
// Reading it costs a lock and one Stats per live leg; the forwarding path is not
// touched (its counters are the bridges' own atomics), which is how /metrics reads
// relay numbers without a call per packet.
type Totals struct {
	Stats
	// Legs is how many legs are open now.
	Legs int
	// MaxJitterFromSIP and MaxPeerJitter are the largest jitter (8 kHz units) among
	// the live legs: ours of the SIP peer's stream, and the SIP peer's of ours.
	MaxJitterFromSIP, MaxPeerJitter uint32
}

// legTally is a Factory's set of live legs and the sum of the closed ones.
type legTally struct {
	mu     sync.Mutex
	live   map[*Leg]struct{}
	closed Stats
}

func (t *legTally) add(l *Leg) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.live == nil {
		t.live = map[*Leg]struct{}{}
	}
	t.live[l] = struct{}{}
}

// handOver makes next the live leg of old's bridge (Factory.Handover): the bridge goes
// on counting, so its counts join the closed sum once, when next closes, and old's
// Close adds nothing.
func (t *legTally) handOver(old, next *Leg) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.live, old)
	if t.live == nil {
		t.live = map[*Leg]struct{}{}
	}
	t.live[next] = struct{}{}
}

// remove moves a closed leg's final counts into the closed sum.
func (t *legTally) remove(l *Leg) {
	st := l.bridge.Stats()
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.live[l]; !ok {
		return
	}
	delete(t.live, l)
	t.closed.add(&st)
}

// Totals sums every leg this Factory made.
func (f *Factory) Totals() Totals {
	t := &f.legs
	t.mu.Lock()
	defer t.mu.Unlock()
	out := Totals{Stats: t.closed, Legs: len(t.live)}
	for l := range t.live {
		st := l.bridge.Stats()
		out.add(&st)
		out.MaxJitterFromSIP = max(out.MaxJitterFromSIP, st.JitterFromSIP)
		out.MaxPeerJitter = max(out.MaxPeerJitter, st.PeerJitter)
	}
	out.PeerFractionLost, out.PeerJitter, out.JitterFromSIP = 0, 0, 0 // not sums
	return out
}

// add sums o's counters into s (the last report's loss and jitter are not counters and
// are left alone).
func (s *Stats) add(o *Stats) {
	s.ToSIP += o.ToSIP
	s.ToBrowser += o.ToBrowser
	s.EventsToSIP += o.EventsToSIP
	s.EventsToBrowser += o.EventsToBrowser
	s.WrongSource += o.WrongSource
	s.Malformed += o.Malformed
	s.RTCP += o.RTCP
	s.RTCPSent += o.RTCPSent
	s.UnknownPayload += o.UnknownPayload
	s.CodecMismatch += o.CodecMismatch
	s.GatedToSIP += o.GatedToSIP
	s.GatedToBrowser += o.GatedToBrowser
	s.NoRoute += o.NoRoute
	s.WriteErrors += o.WriteErrors
	s.LostFromSIP += o.LostFromSIP
	s.LateFromSIP += o.LateFromSIP
}
