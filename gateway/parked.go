package gateway

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/park"
	"github.com/parkway/parkway/signaling"
)

// parkedFeed is the live parked-calls list (DESIGN.md §3, like a BLF panel): one
// subscription per gateway to the active pool's park service (ua.Manager.WatchParked
// with pool "", which Redirect moves to the new active pool on failover and
// failback), and a "parked" message to every session on every change and to each new
// session when it is greeted.
//
// The watcher's callback runs on a SIP goroutine and must not wait for any tab, so it
// only records the newest list and rings kick; run owns the fan-out. A tab whose reply
// queue is full is skipped and tried again shortly, with whatever list is newest
// then: the list is a state, so only the last one matters, and one stuck tab never
// holds up the others.
//
// A pool that goes down takes its park service's calls with it (the gateway hangs up
// its own, DESIGN.md §2) and no NOTIFY will say so: when the pool the list comes from
// fails, every tab gets that pool's empty list at once, and lists from it are ignored
// until it answers probes again (watchPools).
//
// mu guards frame, gen, sent, pool, down and health.
type parkedFeed struct {
	p    *phones
	kick chan struct{}

	mu    sync.Mutex
	frame []byte // the newest list, encoded; nil until the first arrives
	gen   uint64 // counts lists
	pool  string // the pool the newest list came from
	// down holds the pools that failed and have not answered since; health is what
	// the last snapshot said of each pool, and outage whether its phase was outage.
	down   map[string]bool
	health map[string]bool
	outage bool
	// sent holds every greeted session and the generation it was last sent (0:
	// none yet).
	sent map[*session]uint64
}

// parkedRetry is how soon a tab whose queue was full is offered the list again.
const parkedRetry = 250 * time.Millisecond

func newParkedFeed(p *phones) *parkedFeed {
	return &parkedFeed{p: p, kick: make(chan struct{}, 1), sent: map[*session]uint64{}, down: map[string]bool{}, health: map[string]bool{}}
}

// run subscribes (retrying with backoff while no pool takes the SUBSCRIBE: the active
// pool may be down at start) and fans every list out until ctx ends.
func (f *parkedFeed) run(ctx context.Context) {
	var w *ua.Watcher
	for backoff := retryMin; w == nil; backoff = min(2*backoff, retryMax) {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var err error
		w, err = f.p.m.WatchParked(sctx, "", f.update)
		cancel()
		if err == nil {
			break
		}
		f.p.log.Warn("watching parked calls", "err", err, "retry", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
	}
	defer w.Close()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.kick:
		case <-retry.C:
		}
		if !f.fanOut() {
			retry.Reset(parkedRetry)
		}
	}
}

// update takes a list from the watcher.
func (f *parkedFeed) update(l ua.ParkedList) {
	frame, err := signaling.Encode("", parkedMessage(l))
	if err != nil {
		f.p.log.Error("encode parked calls", "err", err)
		return
	}
	f.mu.Lock()
	if f.down[l.Pool] {
		// A failed pool's list, late: its calls are gone with it.
		f.mu.Unlock()
		return
	}
	f.frame, f.pool = frame, l.Pool
	f.gen++
	f.mu.Unlock()
	f.ring()
}

func (f *parkedFeed) ring() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// watchPools follows the DR controller's snapshots (a Controller subscriber: it
// must not block): a pool that answered probes and stops, or the home pool when the
// phase becomes outage, is down; a pool that answers again is up.
func (f *parkedFeed) watchPools(snap dr.Snapshot) {
	var failed []string
	f.mu.Lock()
	for _, p := range snap.Pools {
		if f.health[p.Name] && !p.Healthy {
			failed = append(failed, p.Name)
		}
		if p.Healthy {
			delete(f.down, p.Name)
		}
		f.health[p.Name] = p.Healthy
	}
	outage := snap.Phase == signaling.PhaseOutage
	if outage && !f.outage && snap.HomePool != "" {
		failed = append(failed, snap.HomePool)
	}
	f.outage = outage
	f.mu.Unlock()
	for _, pool := range failed {
		f.poolDown(pool)
	}
}

// poolDown marks pool failed and, when the list is that pool's, sends every tab its
// empty list at once.
func (f *parkedFeed) poolDown(pool string) {
	frame, err := signaling.Encode("", &signaling.Parked{Pool: pool, Calls: []signaling.ParkedCall{}})
	if err != nil {
		f.p.log.Error("encode parked calls", "err", err)
		return
	}
	f.mu.Lock()
	f.down[pool] = true
	if f.pool != pool || f.frame == nil {
		f.mu.Unlock()
		return
	}
	f.frame = frame
	f.gen++
	f.mu.Unlock()
	f.ring()
}

// fanOut offers the newest list to every session that lacks it; false when some queue
// was full.
func (f *parkedFeed) fanOut() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	all := true
	for s, g := range f.sent {
		if g < f.gen && f.frame != nil {
			if f.offerLocked(s) {
				f.sent[s] = f.gen
			} else {
				all = false
			}
		}
	}
	return all
}

// greet sends a new session the list it has not seen, after its calls (calls.go).
func (f *parkedFeed) greet(s *session) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent[s] = 0
	if f.frame == nil {
		return
	}
	if f.offerLocked(s) {
		f.sent[s] = f.gen
		return
	}
	f.ring()
}

func (f *parkedFeed) leave(s *session) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sent, s)
}

// offerLocked queues the list for s without waiting (outbox.reply would wait for a
// full queue); a session that has ended counts as served.
func (f *parkedFeed) offerLocked(s *session) bool {
	select {
	case s.out.replies <- f.frame:
		return true
	case <-s.out.stopped:
		return true
	default:
		return false
	}
}

// parkedMessage is a watcher's list as the softphone shows it: user parts of the
// URIs, Unix milliseconds, calls that left their orbit left out.
func parkedMessage(l ua.ParkedList) *signaling.Parked {
	m := &signaling.Parked{Pool: l.Pool, Calls: make([]signaling.ParkedCall, 0, len(l.Parked))}
	for _, c := range l.Parked {
		if c.State.Final() || !signaling.OrbitPattern.MatchString(c.Orbit) {
			continue
		}
		pc := signaling.ParkedCall{
			Orbit:    c.Orbit,
			Peer:     uriUser(c.ParkedParty),
			ParkedBy: uriUser(c.ParkedBy),
			Since:    c.Since.UnixMilli(),
			State:    string(c.State),
		}
		if !c.Deadline.IsZero() {
			pc.Expires = c.Deadline.UnixMilli()
		}
		if c.State == park.StateParked || c.State == park.StateRingingBack {
			m.Calls = append(m.Calls, pc)
		}
	}
	return m
}

// uriUser is the user part of a SIP URI or name-addr ("Bob" <sip:bob@pool-a;x=y> →
// bob); a URI without one gives its host.
func uriUser(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, `"`) {
		// A quoted display name may hold anything, '<' included (RFC 3261 §25.1).
		if end := quotedEnd(s); end > 0 {
			s = s[end:]
		}
	}
	if i := strings.IndexByte(s, '<'); i >= 0 {
		s = s[i+1:]
		if j := strings.IndexByte(s, '>'); j >= 0 {
			s = s[:j]
		}
	}
	s = strings.TrimSpace(s)
	for _, scheme := range []string{"sip:", "sips:", "tel:"} {
		if len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			s = s[len(scheme):]
			break
		}
	}
	if i := strings.IndexAny(s, ";?"); i >= 0 {
		s = s[:i]
	}
	if user, _, ok := strings.Cut(s, "@"); ok {
		return user
	}
	host, _, _ := strings.Cut(s, ":")
	return host
}

// quotedEnd is the index just past the quoted string s starts with, honouring
// backslash escapes; 0 when it does not end.
func quotedEnd(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return 0
}
