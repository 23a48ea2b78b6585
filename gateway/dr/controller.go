package dr

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/parkway/parkway/metrics"
	"github.com/parkway/parkway/signaling"
)

// Defaults for Config's zero values. With them a dead pool is noticed within about 1 s:
// a probe starts every 250 ms and gives up after 250 ms, and the third miss in a row
// marks the pool down — at most interval + misses × max(interval, timeout) after the
// last answer. Three misses, not one, so that one lost datagram or a GC pause on a
// loaded pool does not fail over a whole pool (BenchmarkDetection measures it); and a
// probe resends its OPTIONS while unanswered (probeAttempts), so that steady packet
// loss does not either.
const (
	DefaultProbeInterval = 250 * time.Millisecond
	DefaultProbeTimeout  = 250 * time.Millisecond
	DefaultProbeMisses   = 3
)

// Pool names one SIP pool the controller watches.
type Pool struct {
	Name    string // e.g. "pool-a"
	SIPAddr string // host:port of its SIP listener, probed with OPTIONS
	Orbits  string // its Call Park orbit range(s), shown in the admin API, e.g. "7000-7099"
	// SurvivablePark (opt-in, issue #10): when this pool dies, calls parked on it whose
	// parked party is a gateway user are re-parked on the other pool instead of hung up
	// (ARCHITECTURE.md §3, "Survivable park"). The other pool's park service must have
	// park.survivable on too.
	SurvivablePark bool
	// Transport is how it is probed: "" or "UDP", or "TLS" (SIPAddr is then its TLS
	// listener, and its certificate must verify against Config.TLS).
	Transport string
}

// Redirector moves every user's registration to the pool named to (ARCHITECTURE.md §2:
// "users redirected to the backup registrar"). Redirect returns nil once all of them
// are registered there; an error is logged and Redirect is called again, with backoff,
// until it succeeds or the controller wants users elsewhere, which it says by
// cancelling ctx. It must therefore be safe to call again after a partial move.
//
// A nil Redirector means there is nothing to move yet (no registrations exist): the
// redirection completes at once, so outage is followed right away by failover.
type Redirector interface {
	Redirect(ctx context.Context, to string) error
}

// Config configures a Controller. Zero values mean the defaults; New never modifies
// the caller's Config.
type Config struct {
	Home, Backup Pool

	// ProbeInterval is how often each pool is sent an OPTIONS; ProbeTimeout how long a
	// probe waits for the answer; ProbeMisses how many failed probes in a row mark a
	// pool down. One answered probe marks it up again.
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	ProbeMisses   int

	Redirector Redirector

	// TLS verifies the certificates of pools probed over TLS (its RootCAs); nil means
	// the system's roots.
	TLS *tls.Config

	// DisableConnectionWatch turns off the watch connection to each pool (connwatch.go):
	// a pool process that dies is then noticed by the probes alone (ProbeMisses misses),
	// not within milliseconds by the reset of a TCP/TLS connection held to it.
	DisableConnectionWatch bool

	// AutoFailoverAfter, when positive, completes a failover (failover → failed-over)
	// this long after users were redirected to the backup by an outage, as an admin's
	// `parkway dr failover` would. AutoFailbackAfter, when positive, starts a failback
	// once the home pool has been healthy this long after an outage moved users away
	// (never after a planned failover: the admin moved them on purpose). Both are off
	// by default: in the Lync model an administrator decides.
	AutoFailoverAfter time.Duration
	AutoFailbackAfter time.Duration

	// Logger receives transitions, health flips and redirection failures; nil means
	// slog.Default().
	Logger *slog.Logger
	// Metrics receives the phase, probe results, transitions and redirections; nil:
	// none.
	Metrics *metrics.Gateway
}

// withDefaults returns a copy of cfg with the zero values filled in.
func (cfg Config) withDefaults() Config {
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = DefaultProbeInterval
	}
	if cfg.ProbeTimeout == 0 {
		cfg.ProbeTimeout = DefaultProbeTimeout
	}
	if cfg.ProbeMisses == 0 {
		cfg.ProbeMisses = DefaultProbeMisses
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg
}

func (cfg Config) validate() error {
	for _, p := range []struct {
		field string
		pool  Pool
	}{{"Home", cfg.Home}, {"Backup", cfg.Backup}} {
		if p.pool.Name == "" {
			return fmt.Errorf("dr: Config.%s.Name is empty", p.field)
		}
		if _, _, err := splitHostPort(p.pool.SIPAddr); err != nil {
			return fmt.Errorf("dr: Config.%s.SIPAddr %q: %w", p.field, p.pool.SIPAddr, err)
		}
	}
	if cfg.Home.Name == cfg.Backup.Name {
		return fmt.Errorf("dr: Config.Home.Name and Config.Backup.Name are both %q", cfg.Home.Name)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"ProbeInterval", cfg.ProbeInterval}, {"ProbeTimeout", cfg.ProbeTimeout},
		{"AutoFailoverAfter", cfg.AutoFailoverAfter}, {"AutoFailbackAfter", cfg.AutoFailbackAfter},
	} {
		if d.v < 0 {
			return fmt.Errorf("dr: Config.%s is negative (%v)", d.field, d.v)
		}
	}
	if cfg.ProbeMisses < 0 {
		return fmt.Errorf("dr: Config.ProbeMisses is negative (%d)", cfg.ProbeMisses)
	}
	return nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not 1-65535", p)
	}
	if host == "" {
		return "", 0, errors.New("no host")
	}
	return host, port, nil
}

// ErrNotRunning is returned by Failover and Failback when Run is not running: without
// it nobody would probe the pools or carry out a redirection.
var ErrNotRunning = errors.New("dr: controller is not running")

// Controller watches a home/backup pool pair and runs the phase machine (machine.go).
//
// Concurrency: mu guards everything below it. Every state change happens under mu, in
// applyLocked, which also publishes the new Snapshot to subscribers' queues — so
// subscribers see changes in the order they happened. Goroutines: one prober per pool,
// at most one redirection, the automatic-transition ticker (when configured), and one
// short-lived delivery goroutine per subscriber with a non-empty queue; Run starts the
// first three kinds and waits for all of them before it returns.
type Controller struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	idle  *sync.Cond // broadcast when deliveries reaches 0
	state State
	// health is the prober's view, [0] home and [1] backup; the machine's HomeHealthy
	// and BackupHealthy follow it through the up/down events.
	health [2]poolHealth
	since  time.Time
	snap   Snapshot // the last published
	subs   map[*subscriber]struct{}
	// deliveries counts delivery goroutines, so Run can wait for them.
	deliveries int
	run        *runState // nil while Run is not running
	move       move
	// homeUpSince is when the home pool last became healthy (zero while it is not), for
	// AutoFailbackAfter.
	homeUpSince time.Time
	// kicks make a pool's probe loop probe at once (the connection watch's doing).
	kicks [2]chan struct{}
}

type poolHealth struct {
	probed bool
	misses int
	detail string // why it is down
}

type runState struct {
	ctx      context.Context
	stopping bool // set before Run waits: no new goroutines, no admin requests
	wg       sync.WaitGroup
}

// move is the redirection in progress.
type move struct {
	to     Role
	gen    uint64 // tells a superseded redirection's result from the current one's
	cancel context.CancelFunc
	err    string
}

// New returns a controller in phase normal, with both pools not yet probed. It probes
// nothing until Run.
func New(cfg Config) (*Controller, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Controller{
		cfg:   cfg,
		log:   cfg.Logger.With("component", "dr"),
		state: State{Phase: signaling.PhaseNormal},
		since: time.Now(),
		subs:  map[*subscriber]struct{}{},
		kicks: [2]chan struct{}{make(chan struct{}, 1), make(chan struct{}, 1)},
	}
	c.idle = sync.NewCond(&c.mu)
	c.health[0].detail = "not probed yet"
	c.health[1].detail = "not probed yet"
	c.snap = c.buildLocked()
	c.snap.Seq = 1
	cfg.Metrics.Phase(c.state.Phase)
	return c, nil
}

// Run probes both pools and carries out redirections until ctx ends, then stops every
// goroutine it started (cancelling a redirection in progress), waits for them and for
// deliveries to subscribers in flight, and returns nil. It returns an error at once if
// the SIP client cannot be created or Run is already running.
func (c *Controller) Run(ctx context.Context) error {
	p, err := newProber(c.cfg, c.log)
	if err != nil {
		return err
	}
	defer p.close()

	c.mu.Lock()
	if c.run != nil {
		c.mu.Unlock()
		return errors.New("dr: Run is already running")
	}
	r := &runState{ctx: ctx}
	c.run = r
	// A redirection cut short by an earlier Run's end is resumed: the state still wants
	// users moved.
	c.steerLocked()
	c.mu.Unlock()

	for i, pool := range []Pool{c.cfg.Home, c.cfg.Backup} {
		r.wg.Go(func() { c.probeLoop(ctx, p, i, pool) })
		if !c.cfg.DisableConnectionWatch {
			r.wg.Go(func() { c.watchLoop(ctx, i, pool) })
		}
	}
	if c.cfg.AutoFailoverAfter > 0 || c.cfg.AutoFailbackAfter > 0 {
		r.wg.Go(func() { c.autoLoop(ctx) })
	}

	<-ctx.Done()
	c.mu.Lock()
	r.stopping = true
	c.stopMoveLocked()
	c.mu.Unlock()
	r.wg.Wait()

	c.mu.Lock()
	for c.deliveries > 0 {
		c.idle.Wait()
	}
	c.run = nil
	c.mu.Unlock()
	return nil
}

// Snapshot returns the current state, a copy the caller may keep and modify.
func (c *Controller) Snapshot() Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snap.clone()
}

// Failover asks for failover (Lync's Invoke-CsPoolFailover): from failover it completes
// it (failed-over); from normal it starts a planned failover and from outage it records
// the request, and failed-over follows by itself once users are on the backup. It
// returns the snapshot after the request, or a *TransitionError (errors.Is
// ErrTransition) when the phase or the backup's health does not allow it.
func (c *Controller) Failover(ctx context.Context) (Snapshot, error) {
	return c.request(ctx, EventFailover)
}

// Failback asks for failback (Invoke-CsPoolFailback): from failover, failed-over (or an
// outage with a failover requested), when the home pool is healthy, users start moving
// home and normal follows once they are all there. Errors as for Failover.
func (c *Controller) Failback(ctx context.Context) (Snapshot, error) {
	return c.request(ctx, EventFailback)
}

func (c *Controller) request(ctx context.Context, e Event) (Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.run == nil || c.run.stopping {
		return c.snap.clone(), ErrNotRunning
	}
	if err := c.applyLocked(e, "admin"); err != nil {
		return c.snap.clone(), err
	}
	return c.snap.clone(), nil
}

// applyLocked runs the machine, publishes the result and then steers the redirection
// towards where the new state wants users — in that order, so that subscribers see an
// outage before the failover a nil Redirector completes at once.
func (c *Controller) applyLocked(e Event, origin string) error {
	prev := c.state
	next, err := Next(prev, e)
	if err != nil {
		return err
	}
	c.state = next
	if next.Phase != prev.Phase {
		c.since = time.Now()
		c.log.Info("dr: phase change", "from", prev.Phase, "to", next.Phase, "event", e, "by", origin)
		c.cfg.Metrics.Transition(prev.Phase, next.Phase, string(e))
	}
	c.publishLocked()
	c.steerLocked()
	return nil
}

// steerLocked keeps exactly one redirection running towards State.MovingTo: it
// cancels one whose target changed and starts the one needed. Without a Redirector the
// move completes at once.
func (c *Controller) steerLocked() {
	to := c.state.MovingTo()
	if to == c.move.to && to != "" {
		return // already on its way
	}
	c.stopMoveLocked()
	if to == "" {
		c.publishLocked()
		return
	}
	done := EventRedirected
	if to == RoleHome {
		done = EventFailbackDone
	}
	if c.cfg.Redirector == nil {
		if err := c.applyLocked(done, "redirection (nothing to move)"); err != nil {
			c.log.Error("dr: completing an empty redirection", "error", err)
		}
		return
	}
	if c.run == nil || c.run.stopping {
		// Only Run's goroutines and admin requests (which check this) change state.
		c.log.Error("dr: redirection needed while not running", "to", c.poolName(to))
		return
	}
	ctx, cancel := context.WithCancel(c.run.ctx)
	c.move = move{to: to, gen: c.move.gen + 1, cancel: cancel}
	gen := c.move.gen
	c.run.wg.Go(func() { c.redirect(ctx, gen, to, done) })
	c.publishLocked()
}

func (c *Controller) stopMoveLocked() {
	if c.move.cancel != nil {
		c.move.cancel()
	}
	// A new generation, so a redirection that finishes just now finds itself superseded.
	c.move = move{gen: c.move.gen + 1}
}

// redirect calls the Redirector until it succeeds, backing off from 250 ms to 5 s
// between attempts; every failure is logged and shown in Snapshot.RedirectError.
func (c *Controller) redirect(ctx context.Context, gen uint64, to Role, done Event) {
	name := c.poolName(to)
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := c.cfg.Redirector.Redirect(ctx, name)
		c.cfg.Metrics.Redirected(name, time.Since(start), err)
		if ctx.Err() != nil {
			return // superseded or stopping; whoever cancelled owns what comes next
		}
		c.mu.Lock()
		if c.move.gen != gen || c.run == nil || c.run.stopping {
			c.mu.Unlock()
			return
		}
		if err == nil {
			c.stopMoveLocked()
			if err := c.applyLocked(done, "redirection"); err != nil {
				c.log.Error("dr: redirection finished in an unexpected state", "to", name, "error", err)
			}
			c.mu.Unlock()
			c.log.Info("dr: users redirected", "to", name, "attempts", attempt)
			return
		}
		c.move.err = fmt.Sprintf("attempt %d: %v", attempt, err)
		c.publishLocked()
		c.mu.Unlock()
		c.log.Warn("dr: redirection failed; retrying", "to", name, "attempt", attempt, "retry_in", backoff, "error", err)

		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// observe records one probe result and, when the pool's health flips, feeds the
// machine the up or down event.
func (c *Controller) observe(i int, ok bool, detail string) { c.record(i, ok, detail, false) }

// record is observe; decisive marks the pool down at once, whatever the count of
// misses (the connection watch's proof that the pool's process is gone).
func (c *Controller) record(i int, ok bool, detail string, decisive bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.run == nil || c.run.stopping {
		return
	}
	h := &c.health[i]
	healthy := c.state.HomeHealthy
	if i == 1 {
		healthy = c.state.BackupHealthy
	}
	var e Event
	if ok {
		h.misses = 0
		if !healthy || !h.probed {
			h.probed, h.detail = true, ""
			e = [2]Event{EventHomeUp, EventBackupUp}[i]
			if i == 0 {
				c.homeUpSince = time.Now()
			}
		}
	} else {
		h.misses++
		if decisive {
			h.misses = max(h.misses, c.cfg.ProbeMisses)
		}
		if (healthy || !h.probed) && h.misses >= c.cfg.ProbeMisses {
			h.probed = true
			h.detail = fmt.Sprintf("%s, %d probes in a row", detail, h.misses)
			if decisive {
				h.detail = detail
			}
			e = [2]Event{EventHomeDown, EventBackupDown}[i]
			if i == 0 {
				c.homeUpSince = time.Time{}
			}
		} else if !healthy && h.probed {
			h.detail = fmt.Sprintf("%s, %d probes in a row", detail, h.misses)
			// Not published: the count ticking up is not a state change.
		}
	}
	if e == "" {
		return
	}
	pool := [2]Pool{c.cfg.Home, c.cfg.Backup}[i]
	c.cfg.Metrics.PoolHealth(pool.Name, [2]string{"home", "backup"}[i], ok)
	if ok {
		c.log.Info("dr: pool healthy", "pool", pool.Name)
	} else {
		c.log.Warn("dr: pool down", "pool", pool.Name, "detail", h.detail)
	}
	if err := c.applyLocked(e, "prober"); err != nil {
		c.log.Error("dr: health event refused", "event", e, "error", err) // Next accepts them all
	}
}

// autoLoop makes the automatic transitions of Config.AutoFailoverAfter and
// AutoFailbackAfter, checking once per probe interval; they go through the same rules
// as an admin's request.
func (c *Controller) autoLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c.autoCheck(now)
		}
	}
}

func (c *Controller) autoCheck(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.run == nil || c.run.stopping {
		return
	}
	s := c.state
	if d := c.cfg.AutoFailbackAfter; d > 0 && !s.Planned && s.HomeHealthy && !c.homeUpSince.IsZero() &&
		now.Sub(c.homeUpSince) >= d &&
		(s.Phase == signaling.PhaseFailover && !s.FailoverRequested || s.Phase == signaling.PhaseFailedOver) {
		if err := c.applyLocked(EventFailback, "auto-failback"); err != nil {
			c.log.Debug("dr: automatic failback refused", "error", err)
		}
		return
	}
	if d := c.cfg.AutoFailoverAfter; d > 0 && s.Phase == signaling.PhaseFailover && !s.FailoverRequested &&
		now.Sub(c.since) >= d {
		if err := c.applyLocked(EventFailover, "auto-failover"); err != nil {
			c.log.Debug("dr: automatic failover refused", "error", err)
		}
	}
}

func (c *Controller) poolName(r Role) string {
	if r == RoleBackup {
		return c.cfg.Backup.Name
	}
	return c.cfg.Home.Name
}

// buildLocked makes the Snapshot of the current state, without Seq.
func (c *Controller) buildLocked() Snapshot {
	s := c.state
	pools := make([]PoolStatus, 2)
	for i, p := range []Pool{c.cfg.Home, c.cfg.Backup} {
		healthy := s.HomeHealthy
		role := RoleHome
		if i == 1 {
			healthy, role = s.BackupHealthy, RoleBackup
		}
		pools[i] = PoolStatus{Name: p.Name, Role: string(role), Healthy: healthy, SIPAddr: p.SIPAddr, Orbits: p.Orbits, SurvivablePark: p.SurvivablePark}
		if !healthy {
			pools[i].Detail = c.health[i].detail
		}
	}
	snap := Snapshot{
		Phase:             s.Phase,
		HomePool:          c.cfg.Home.Name,
		BackupPool:        c.cfg.Backup.Name,
		ActivePool:        c.poolName(s.UsersOn()),
		Resiliency:        s.Phase.Resiliency(),
		Pools:             pools,
		Since:             c.since,
		FailoverRequested: s.FailoverRequested,
		RedirectError:     c.move.err,
	}
	if c.move.to != "" {
		snap.Redirecting = c.poolName(c.move.to)
	}
	return snap
}

// publishLocked makes the current state the published Snapshot if it differs from the
// last one, and queues it for every subscriber.
func (c *Controller) publishLocked() {
	n := c.buildLocked()
	if n.sameAs(c.snap) {
		return
	}
	n.Seq = c.snap.Seq + 1
	c.snap = n
	for s := range c.subs {
		c.enqueueLocked(s, n)
	}
}
