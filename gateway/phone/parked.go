package phone

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/gateway/edge"
	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/signaling"
)

// parkedFeed is the live parked-calls list (ARCHITECTURE.md §3, like a BLF panel): one
// subscription per configured pool (home and backup) to its park service
// (ua.Manager.WatchParked with that pool's name: these watchers stay where they are
// when users are redirected), the lists merged into one, and a "parked" message to
// every session on every change and to each new session when it is greeted. A call
// parked on the backup during failed-over stays listed through failback and after
// (ARCHITECTURE.md §2), and each call names its pool; the message's Pool is the active one,
// where new parks go (the watchers' OnRedirect tell the feed when it changes).
//
// The watchers' callbacks run on SIP goroutines and must not wait for any tab, so
// they only record the newest merged list and ring kick; run owns the fan-out. A tab
// whose reply queue is full is skipped and tried again shortly, with whatever list is
// newest then: the list is a state, so only the last one matters, and one stuck tab
// never holds up the others. A merged list equal to the last one is not sent again.
//
// A pool that goes down takes its park service's calls with it (the gateway hangs up
// its own, ARCHITECTURE.md §2) and no NOTIFY will say so: when a pool fails, its calls
// leave the list at once, and lists from it are ignored until it answers probes again
// (watchPools), when its watcher subscribes anew (a restarted pool has forgotten the
// subscription).
//
// mu guards frame, gen, sent, calls, watchers, wake, down and health.
type parkedFeed struct {
	p    *phones
	kick chan struct{}

	mu    sync.Mutex
	frame []byte // the newest merged list, encoded; nil until the first list arrives
	gen   uint64 // counts lists
	// pools are the watched pools, in the order their calls are listed; calls holds
	// the calls of each pool that is up, as its watcher last reported them.
	pools    []string
	calls    map[string][]signaling.ParkedCall
	watchers map[string]*ua.Watcher   // each pool's, once it took the SUBSCRIBE
	wake     map[string]chan struct{} // cuts short the wait before a pool's next SUBSCRIBE
	// down holds the pools that failed and have not answered since; health is what
	// the last snapshot said of each pool, and outage whether its phase was outage.
	down   map[string]bool
	health map[string]bool
	outage bool
	// sent holds every greeted session and the generation it was last sent (0:
	// none yet).
	sent map[*edge.Session]uint64
}

// parkedRetry is how soon a tab whose queue was full is offered the list again.
const parkedRetry = 250 * time.Millisecond

// newParkedFeed watches the DR pool pair's pools of snap, home then backup (those the
// user agent knows; none: the active pool alone).
func newParkedFeed(p *phones, snap dr.Snapshot) *parkedFeed {
	f := &parkedFeed{p: p, kick: make(chan struct{}, 1), sent: map[*edge.Session]uint64{},
		calls: map[string][]signaling.ParkedCall{}, watchers: map[string]*ua.Watcher{}, wake: map[string]chan struct{}{},
		down: map[string]bool{}, health: map[string]bool{}}
	pools := []string{snap.HomePool, snap.BackupPool}
	for _, pool := range pools {
		if _, ok := p.m.Pool(pool); ok && !slices.Contains(f.pools, pool) {
			f.pools = append(f.pools, pool)
		}
	}
	if len(f.pools) == 0 {
		f.pools = []string{p.m.Active().Name}
	}
	for _, pool := range f.pools {
		f.wake[pool] = make(chan struct{}, 1)
	}
	return f
}

// run watches every pool and fans every list out until ctx ends.
func (f *parkedFeed) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, pool := range f.pools {
		wg.Go(func() { f.watch(ctx, pool) })
	}
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

// watch subscribes to pool's park service (retrying with backoff while it does not
// take the SUBSCRIBE: it may be down at start, and then its coming up cuts the wait
// short) and keeps the subscription until ctx ends.
func (f *parkedFeed) watch(ctx context.Context, pool string) {
	var w *ua.Watcher
	for backoff := retryMin; w == nil; backoff = min(2*backoff, retryMax) {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var err error
		w, err = f.p.m.WatchParked(sctx, pool, func(l ua.ParkedList) { f.update(pool, l) })
		cancel()
		if err == nil {
			break
		}
		f.p.log.Warn("watching parked calls", "pool", pool, "err", err, "retry", backoff)
		select {
		case <-time.After(backoff):
		case <-f.wake[pool]:
			backoff = retryMin / 2
		case <-ctx.Done():
			return
		}
	}
	w.OnRedirect(func(ua.Pool) { f.compose() })
	f.mu.Lock()
	f.watchers[pool] = w
	f.mu.Unlock()
	f.compose() // the active pool may have changed before OnRedirect was set
	<-ctx.Done()
	f.mu.Lock()
	delete(f.watchers, pool)
	f.mu.Unlock()
	w.Close()
}

// update takes a list from pool's watcher.
func (f *parkedFeed) update(pool string, l ua.ParkedList) {
	l.Pool = pool // the watcher's pool, whatever its park service calls itself
	calls := parkedMessage(l).Calls
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down[pool] {
		// A failed pool's list, late: its calls are gone with it.
		return
	}
	f.calls[pool] = calls
	f.composeLocked(true)
}

// compose makes the merged list anew (the active pool changed).
func (f *parkedFeed) compose() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.composeLocked(false)
}

// composeLocked merges the pools' calls into the list tabs are offered, named after
// the active pool, and rings run when it changed. Before the first list from any pool
// there is none to offer unless first.
func (f *parkedFeed) composeLocked(first bool) {
	if f.frame == nil && !first {
		return
	}
	m := &signaling.Parked{Pool: f.p.m.Active().Name, Calls: []signaling.ParkedCall{}}
	for _, pool := range f.pools {
		m.Calls = append(m.Calls, f.calls[pool]...)
	}
	frame, err := signaling.Encode("", m)
	if err != nil {
		f.p.log.Error("encode parked calls", "err", err)
		return
	}
	if bytes.Equal(frame, f.frame) {
		return
	}
	f.frame = frame
	f.gen++
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
// phase becomes outage, is down; a pool that answers again is up, and its watcher
// subscribes anew at once. The user agent hears both (ua.Manager.PoolDown), so it says
// no goodbyes to a pool that is down.
func (f *parkedFeed) watchPools(snap dr.Snapshot) {
	var failed []string
	f.mu.Lock()
	for _, p := range snap.Pools {
		if f.health[p.Name] && !p.Healthy {
			failed = append(failed, p.Name)
		}
		if p.Healthy {
			if w := f.watchers[p.Name]; w != nil {
				if f.down[p.Name] {
					w.Resubscribe()
				}
			} else if c := f.wake[p.Name]; c != nil {
				select {
				case c <- struct{}{}:
				default:
				}
			}
			delete(f.down, p.Name)
			f.p.m.PoolDown(p.Name, false)
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
		f.p.m.PoolDown(pool, true) // no goodbyes to it (ua.Manager.PoolDown)
		f.poolDown(pool)
	}
}

// poolDown marks pool failed and sends every tab the list without its calls at once.
func (f *parkedFeed) poolDown(pool string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down[pool] = true
	delete(f.calls, pool)
	f.composeLocked(false)
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
func (f *parkedFeed) greet(s *edge.Session) {
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

func (f *parkedFeed) leave(s *edge.Session) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sent, s)
}

// offerLocked queues the list for s without waiting (Reply would wait for a full
// queue); a session that has ended counts as served.
func (f *parkedFeed) offerLocked(s *edge.Session) bool { return s.Offer(f.frame) }

// parkedMessage is a watcher's list as the softphone shows it: user parts of the
// URIs, Unix milliseconds, calls that left their orbit left out, each call naming the
// list's pool.
func parkedMessage(l ua.ParkedList) *signaling.Parked {
	m := &signaling.Parked{Pool: l.Pool, Calls: make([]signaling.ParkedCall, 0, len(l.Parked))}
	for _, c := range l.Parked {
		if c.State.Final() || !parkwire.ValidOrbit(c.Orbit) {
			continue
		}
		pc := signaling.ParkedCall{
			Orbit:    c.Orbit,
			Pool:     l.Pool,
			Peer:     uriUser(c.ParkedParty),
			ParkedBy: uriUser(c.ParkedBy),
			Since:    c.Since.UnixMilli(),
			State:    string(c.State),
		}
		if !c.Deadline.IsZero() {
			pc.Expires = c.Deadline.UnixMilli()
		}
		if c.State == parkwire.StateParked || c.State == parkwire.StateRingingBack {
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
