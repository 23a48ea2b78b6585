package dr

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/gateway/dr/drtest"
	"github.com/parkway/parkway/signaling"
)

// TestMain fails the package when a goroutine of the controller or of sipgo outlives the
// tests: Run promises to wait for everything it starts.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := leakedGoroutines(); leaked != "" {
			os.Stderr.WriteString("leaked goroutines:\n" + leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines returns the stacks of goroutines running controller or sipgo code,
// after giving exiting ones a moment to finish (a liveness bound, not a timing check).
func leakedGoroutines() string {
	var leaked string
	for range 100 {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		leaked = ""
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "leakedGoroutines") {
				continue
			}
			if strings.Contains(g, "parkway/gateway/dr.") || strings.Contains(g, "emiago/sipgo") {
				leaked += g + "\n\n"
			}
		}
		if leaked == "" {
			return ""
		}
		time.Sleep(50 * time.Millisecond)
	}
	return leaked
}

// waitLimit bounds every wait so a broken controller fails the test instead of hanging
// it; it is far above any expected time and never a timing assertion.
const waitLimit = 30 * time.Second

type harness struct {
	t            testing.TB
	c            *Controller
	home, backup *drtest.Pool
	snaps        chan Snapshot
	last         Snapshot
	stop         func()
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startController starts two test pools and a running controller over them; edit
// adjusts the Config before New.
func startController(tb testing.TB, edit func(*Config)) *harness {
	tb.Helper()
	h := &harness{t: tb, home: drtest.NewPool(tb), backup: drtest.NewPool(tb), snaps: make(chan Snapshot, 4096)}
	cfg := Config{
		Home:   Pool{Name: "pool-a", SIPAddr: h.home.Addr(), Orbits: "7000-7099"},
		Backup: Pool{Name: "pool-b", SIPAddr: h.backup.Addr(), Orbits: "8000-8099"},
		Logger: quietLogger(),
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	h.c = c
	cancelSub := c.Subscribe(func(s Snapshot) {
		select {
		case h.snaps <- s:
		default:
			panic("test subscriber queue full")
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var stopped bool
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
	}
	tb.Cleanup(cancelSub)
	tb.Cleanup(h.stop)
	return h
}

// waitFor reads published snapshots until one satisfies ok, checking on the way that
// Seq only grows.
func (h *harness) waitFor(what string, ok func(Snapshot) bool) Snapshot {
	h.t.Helper()
	if h.last.Seq != 0 && ok(h.last) {
		return h.last
	}
	limit := time.After(waitLimit)
	for {
		select {
		case s := <-h.snaps:
			if s.Seq <= h.last.Seq {
				h.t.Fatalf("snapshot Seq %d after %d: out of order", s.Seq, h.last.Seq)
			}
			h.last = s
			if ok(s) {
				return s
			}
		case <-limit:
			h.t.Fatalf("waiting for %s: last snapshot %+v", what, h.last)
		}
	}
}

func phaseIs(p signaling.Phase) func(Snapshot) bool {
	return func(s Snapshot) bool { return s.Phase == p }
}

func healthy(name string, want bool) func(Snapshot) bool {
	return func(s Snapshot) bool {
		p, ok := s.Pool(name)
		return ok && p.Healthy == want
	}
}

func both(a, b func(Snapshot) bool) func(Snapshot) bool {
	return func(s Snapshot) bool { return a(s) && b(s) }
}

// stopHome closes the home pool's socket, as a crash or the demo's stop would.
func (h *harness) stopHome() {
	h.t.Helper()
	if err := h.home.Stop(); err != nil {
		h.t.Fatal(err)
	}
}

// startHome reopens the home pool's socket on its old address.
func (h *harness) startHome() {
	h.t.Helper()
	if err := h.home.Start(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) waitHealthy() Snapshot {
	h.t.Helper()
	return h.waitFor("both pools healthy", both(healthy("pool-a", true), healthy("pool-b", true)))
}

// TestOutageAndRecovery is the contract script's walk against real SIP sockets: a
// stopped home pool is noticed, users (none yet: nil Redirector) are redirected, an
// admin fails over, the pool comes back and an admin fails back.
func TestOutageAndRecovery(t *testing.T) {
	h := startController(t, nil)
	ctx := context.Background()

	s := h.waitHealthy()
	if s.Phase != signaling.PhaseNormal || s.ActivePool != "pool-a" || s.Resiliency {
		t.Fatalf("start: %+v", s)
	}
	if _, err := h.c.Failback(ctx); !errors.Is(err, ErrTransition) {
		t.Fatalf("Failback in normal: %v; want a TransitionError", err)
	}

	stopped := time.Now()
	h.stopHome()
	s = h.waitFor("outage", phaseIs(signaling.PhaseOutage))
	t.Logf("outage published %v after the home pool stopped", time.Since(stopped))
	// The reason is the probes' or, once the watch connection has settled, its refused
	// reconnection (connwatch.go), whichever came first.
	if p, _ := s.Pool("pool-a"); p.Healthy || !strings.Contains(p.Detail, "no answer") && !strings.Contains(p.Detail, "reconnecting was refused") {
		t.Errorf("pool-a in outage: %+v; want unhealthy with a reason", p)
	}
	// No Redirector: nothing to move, failover follows at once.
	s = h.waitFor("failover", phaseIs(signaling.PhaseFailover))
	if s.ActivePool != "pool-b" || !s.Resiliency {
		t.Errorf("failover: %+v; want active pool-b in resiliency mode", s)
	}
	if _, err := h.c.Failback(ctx); !errors.Is(err, ErrTransition) {
		t.Errorf("Failback with home down: %v; want a TransitionError", err)
	}

	s, err := h.c.Failover(ctx)
	if err != nil || s.Phase != signaling.PhaseFailedOver || s.Resiliency || s.ActivePool != "pool-b" {
		t.Fatalf("Failover: %+v, %v", s, err)
	}
	if _, err := h.c.Failover(ctx); !errors.Is(err, ErrTransition) {
		t.Errorf("second Failover: %v; want a TransitionError", err)
	}

	h.startHome()
	s = h.waitFor("pool-a healthy again", healthy("pool-a", true))
	if s.Phase != signaling.PhaseFailedOver {
		t.Errorf("home back: phase %s; want failed-over (an admin decides)", s.Phase)
	}
	s, err = h.c.Failback(ctx)
	if err != nil || s.Phase != signaling.PhaseNormal || s.ActivePool != "pool-a" {
		t.Fatalf("Failback: %+v, %v", s, err)
	}
	// Both intermediate phases were published, in order.
	h.waitFor("failback", phaseIs(signaling.PhaseFailback))
	h.waitFor("normal", phaseIs(signaling.PhaseNormal))
}

// TestDrainingPoolIsDown: a pool answering 503 (draining) is unhealthy, and healthy
// again once it answers 200.
func TestDrainingPoolIsDown(t *testing.T) {
	t.Parallel()
	h := startController(t, nil)
	h.waitHealthy()
	h.backup.SetStatus(503)
	s := h.waitFor("pool-b down", healthy("pool-b", false))
	if p, _ := s.Pool("pool-b"); !strings.Contains(p.Detail, "503") {
		t.Errorf("pool-b detail %q; want the 503", p.Detail)
	}
	if s.Phase != signaling.PhaseNormal {
		t.Errorf("backup down changed the phase to %s", s.Phase)
	}
	if _, err := h.c.Failover(context.Background()); !errors.Is(err, ErrTransition) {
		t.Errorf("planned failover to a draining backup: %v; want refused", err)
	}
	h.backup.SetStatus(200)
	h.waitFor("pool-b healthy", healthy("pool-b", true))

	h.home.SetStatus(503)
	h.waitFor("outage on a draining home pool", phaseIs(signaling.PhaseOutage))
}

// TestProbeResendsThroughLoss: a pool that answers only one OPTIONS in four (75 % loss,
// deterministic) stays healthy, because a probe resends while unanswered
// (probeAttempts); with one datagram per probe, three misses in a row came within a
// second. It is still marked down the moment it stops answering.
func TestProbeResendsThroughLoss(t *testing.T) {
	t.Parallel()
	h := startController(t, nil)
	h.waitHealthy()
	h.home.SetAnswerEvery(4)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if s := h.c.Snapshot(); s.Phase != signaling.PhaseNormal || !poolHealthy(s, "pool-a") {
			t.Fatalf("a pool answering one OPTIONS in four was taken for down: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := h.home.Stop(); err != nil {
		t.Fatal(err)
	}
	h.waitFor("outage once pool-a is silent", phaseIs(signaling.PhaseOutage))
}

func poolHealthy(s Snapshot, name string) bool {
	p, ok := s.Pool(name)
	return ok && p.Healthy
}

// TestUnreachableAtStart: a home pool that never answers is an outage, and its detail
// says so.
func TestUnreachableAtStart(t *testing.T) {
	h := startController(t, func(c *Config) { c.Home.SIPAddr = "127.0.0.1:9" })
	s := h.waitFor("outage", phaseIs(signaling.PhaseOutage))
	if p := s.Pools[0]; p.Healthy || !strings.Contains(p.Detail, "3 probes in a row") {
		t.Errorf("pool-a never answered: %+v; want unhealthy after 3 misses", p)
	}
}

// TestPlannedFailover: from normal, with home alive, users are moved by the Redirector
// and failed-over follows; failback moves them home.
func TestPlannedFailover(t *testing.T) {
	r := newFakeRedirector()
	h := startController(t, func(c *Config) { c.Redirector = r })
	h.waitHealthy()
	ctx := context.Background()

	s, err := h.c.Failover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Phase != signaling.PhaseFailover || !s.FailoverRequested || s.Redirecting != "pool-b" || !s.Resiliency {
		t.Fatalf("planned failover started: %+v", s)
	}
	call := <-r.calls
	if call.to != "pool-b" {
		t.Fatalf("Redirect to %q; want pool-b", call.to)
	}
	if _, err := h.c.Failover(ctx); !errors.Is(err, ErrTransition) {
		t.Errorf("Failover while one is in progress: %v; want refused", err)
	}
	r.results <- nil
	s = h.waitFor("failed-over", phaseIs(signaling.PhaseFailedOver))
	if s.Redirecting != "" || s.FailoverRequested || s.ActivePool != "pool-b" {
		t.Errorf("failed-over: %+v", s)
	}
	if p, _ := s.Pool("pool-a"); !p.Healthy {
		t.Errorf("planned failover: home should still be healthy: %+v", p)
	}

	s, err = h.c.Failback(ctx)
	if err != nil || s.Phase != signaling.PhaseFailback || s.Redirecting != "pool-a" {
		t.Fatalf("Failback: %+v, %v", s, err)
	}
	if call := <-r.calls; call.to != "pool-a" {
		t.Fatalf("Redirect to %q; want pool-a", call.to)
	}
	r.results <- nil
	h.waitFor("normal", phaseIs(signaling.PhaseNormal))
}

// TestRedirectRetried: a failing redirection is retried, its error is published, and
// the phase moves on once it succeeds.
func TestRedirectRetried(t *testing.T) {
	t.Parallel()
	r := newFakeRedirector()
	h := startController(t, func(c *Config) { c.Redirector = r })
	h.waitHealthy()
	h.stopHome()
	h.waitFor("outage", phaseIs(signaling.PhaseOutage))
	<-r.calls
	r.results <- errors.New("registrar at pool-b said 500")
	s := h.waitFor("the redirect error published", func(s Snapshot) bool { return s.RedirectError != "" })
	if !strings.Contains(s.RedirectError, "pool-b said 500") || s.Phase != signaling.PhaseOutage {
		t.Errorf("after a failed redirection: %+v", s)
	}
	if call := <-r.calls; call.to != "pool-b" {
		t.Fatalf("retry to %q", call.to)
	}
	r.results <- nil
	s = h.waitFor("failover", phaseIs(signaling.PhaseFailover))
	if s.RedirectError != "" || s.Redirecting != "" {
		t.Errorf("failover: %+v; want the redirection cleared", s)
	}
}

// TestHomeBackDuringOutage: home returns before users are moved; the move to the backup
// is cancelled and users are brought home (failback, then normal).
func TestHomeBackDuringOutage(t *testing.T) {
	t.Parallel()
	r := newFakeRedirector()
	h := startController(t, func(c *Config) { c.Redirector = r })
	h.waitHealthy()
	h.stopHome()
	h.waitFor("outage", phaseIs(signaling.PhaseOutage))
	first := <-r.calls
	h.startHome()
	h.waitFor("failback", phaseIs(signaling.PhaseFailback))
	<-first.ctx.Done() // the move to pool-b was cancelled
	if call := <-r.calls; call.to != "pool-a" {
		t.Fatalf("Redirect to %q; want pool-a", call.to)
	}
	r.results <- nil
	h.waitFor("normal", phaseIs(signaling.PhaseNormal))
}

// TestRedirectResumedByNextRun: a redirection cancelled because Run ended starts again
// when Run is called again, since the phase still wants users moved.
func TestRedirectResumedByNextRun(t *testing.T) {
	r := newFakeRedirector()
	h := startController(t, func(c *Config) { c.Redirector = r })
	h.waitHealthy()
	h.stopHome()
	h.waitFor("outage", phaseIs(signaling.PhaseOutage))
	first := <-r.calls
	h.stop()
	<-first.ctx.Done()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if call := <-r.calls; call.to != "pool-b" {
		t.Fatalf("resumed Redirect to %q; want pool-b", call.to)
	}
	r.results <- nil
	if s := h.waitFor("failover", phaseIs(signaling.PhaseFailover)); s.ActivePool != "pool-b" {
		t.Errorf("after the resumed redirection: %+v", s)
	}
}

// TestFailoverDuringOutage: an admin's failover during the outage is recorded and
// completes when users are on the backup.
func TestFailoverDuringOutage(t *testing.T) {
	r := newFakeRedirector()
	h := startController(t, func(c *Config) { c.Redirector = r })
	h.waitHealthy()
	h.stopHome()
	h.waitFor("outage", phaseIs(signaling.PhaseOutage))
	<-r.calls
	s, err := h.c.Failover(context.Background())
	if err != nil || s.Phase != signaling.PhaseOutage || !s.FailoverRequested {
		t.Fatalf("Failover in outage: %+v, %v", s, err)
	}
	r.results <- nil
	h.waitFor("failed-over", phaseIs(signaling.PhaseFailedOver))
}

// TestAutomatic: with both automatic options on, an outage ends in failed-over and a
// recovered home pool brings users back without an admin.
func TestAutomatic(t *testing.T) {
	t.Parallel()
	h := startController(t, func(c *Config) {
		c.AutoFailoverAfter = 300 * time.Millisecond
		c.AutoFailbackAfter = 500 * time.Millisecond
	})
	h.waitHealthy()
	h.stopHome()
	h.waitFor("failed-over by itself", phaseIs(signaling.PhaseFailedOver))
	h.startHome()
	h.waitFor("failback by itself", phaseIs(signaling.PhaseFailback))
	h.waitFor("normal", phaseIs(signaling.PhaseNormal))
}

// TestAutoFailbackLeavesPlannedFailover: automatic failback never undoes an admin's
// planned failover.
func TestAutoFailbackLeavesPlannedFailover(t *testing.T) {
	h := startController(t, func(c *Config) { c.AutoFailbackAfter = time.Millisecond })
	h.waitHealthy()
	if _, err := h.c.Failover(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.waitFor("failed-over", phaseIs(signaling.PhaseFailedOver))
	// Let the auto check run many times; nothing may be published but probes' flips.
	time.Sleep(20 * DefaultProbeInterval / 10)
	if s := h.c.Snapshot(); s.Phase != signaling.PhaseFailedOver {
		t.Fatalf("planned failover undone: %+v", s)
	}
}

// TestOnPoolDown: each failure of a pool that was healthy is reported once, also in a
// phase the failure does not change (home dying after a planned failover).
func TestOnPoolDown(t *testing.T) {
	t.Parallel()
	h := startController(t, nil)
	down := make(chan string, 16)
	cancel := h.c.OnPoolDown(func(pool string) { down <- pool })
	defer cancel()
	h.waitHealthy()
	if _, err := h.c.Failover(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.waitFor("failed-over", phaseIs(signaling.PhaseFailedOver))
	h.stopHome()
	h.waitFor("pool-a down", healthy("pool-a", false))
	select {
	case p := <-down:
		if p != "pool-a" {
			t.Fatalf("OnPoolDown(%q), want pool-a", p)
		}
	case <-time.After(waitLimit):
		t.Fatal("OnPoolDown never called for pool-a")
	}
	if s := h.c.Snapshot(); s.Phase != signaling.PhaseFailedOver {
		t.Fatalf("phase %s after home died in failed-over", s.Phase)
	}
	h.startHome()
	h.waitFor("pool-a healthy again", healthy("pool-a", true))
	h.stopHome()
	h.waitFor("pool-a down again", healthy("pool-a", false))
	select {
	case p := <-down:
		if p != "pool-a" {
			t.Fatalf("OnPoolDown(%q), want pool-a", p)
		}
	case <-time.After(waitLimit):
		t.Fatal("OnPoolDown not called for pool-a's second failure")
	}
	select {
	case p := <-down:
		t.Fatalf("OnPoolDown(%q) once more: one call per failure", p)
	default:
	}
}

func TestSubscribe(t *testing.T) {
	h := startController(t, nil)
	h.waitHealthy()
	// A second subscriber gets the current snapshot first, then changes in order, and
	// nothing after cancel.
	got := make(chan Snapshot, 100)
	cancel := h.c.Subscribe(func(s Snapshot) { got <- s })
	first := <-got
	if first.Seq != h.c.Snapshot().Seq {
		t.Errorf("first delivery Seq %d; current %d", first.Seq, h.c.Snapshot().Seq)
	}
	if _, err := h.c.Failover(context.Background()); err != nil {
		t.Fatal(err)
	}
	var phases []signaling.Phase
	for s := range got {
		phases = append(phases, s.Phase)
		if s.Phase == signaling.PhaseFailedOver {
			break
		}
	}
	if strings.Join(phaseStrings(phases), ",") != "failover,failed-over" {
		t.Errorf("phases delivered %v; want failover then failed-over", phases)
	}
	cancel()
	if _, err := h.c.Failback(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.waitFor("normal", phaseIs(signaling.PhaseNormal))
	h.stop() // Run waits for deliveries: after it, nothing more can arrive
	if len(got) != 0 {
		t.Errorf("delivered after cancel: %+v", <-got)
	}

	// fn may call back into the controller without deadlock.
	c, err := New(Config{Home: Pool{Name: "a", SIPAddr: "127.0.0.1:1"}, Backup: Pool{Name: "b", SIPAddr: "127.0.0.1:2"}})
	if err != nil {
		t.Fatal(err)
	}
	var cancel2 func()
	cancel2 = c.Subscribe(func(s Snapshot) { _ = c.Snapshot() })
	cancel2()
}

func phaseStrings(ps []signaling.Phase) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}

func TestNotRunning(t *testing.T) {
	c, err := New(Config{Home: Pool{Name: "a", SIPAddr: "127.0.0.1:1"}, Backup: Pool{Name: "b", SIPAddr: "127.0.0.1:2"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Failover(context.Background()); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Failover before Run: %v", err)
	}
	s := c.Snapshot()
	if s.Phase != signaling.PhaseNormal || len(s.Pools) != 2 || s.Pools[0].Role != "home" || s.Pools[1].Role != "backup" ||
		s.Pools[0].Detail != "not probed yet" || s.Seq == 0 {
		t.Errorf("initial snapshot %+v", s)
	}
}

func TestNewValidates(t *testing.T) {
	good := Config{Home: Pool{Name: "a", SIPAddr: "127.0.0.1:5060"}, Backup: Pool{Name: "b", SIPAddr: "127.0.0.1:5070"}}
	orig := good
	if _, err := New(good); err != nil {
		t.Fatal(err)
	}
	if good != orig {
		t.Errorf("New changed the caller's Config: %+v", good)
	}
	bad := map[string]func(*Config){
		"Home.Name":         func(c *Config) { c.Home.Name = "" },
		"Backup.SIPAddr":    func(c *Config) { c.Backup.SIPAddr = "127.0.0.1" },
		"Home.SIPAddr":      func(c *Config) { c.Home.SIPAddr = "127.0.0.1:99999" },
		"both":              func(c *Config) { c.Backup.Name = "a" },
		"ProbeInterval":     func(c *Config) { c.ProbeInterval = -1 },
		"ProbeMisses":       func(c *Config) { c.ProbeMisses = -1 },
		"AutoFailbackAfter": func(c *Config) { c.AutoFailbackAfter = -time.Second },
	}
	for field, edit := range bad {
		cfg := good
		edit(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err = %v; want one naming the field", field, err)
		}
	}
}

// BenchmarkDetection measures the time from a home pool's SIP socket closing to the
// outage being published to a subscriber, with the default probe settings. ns/op is the
// mean detection time; max-ms the worst seen. The stop lands at a random point of the
// probe cycle, as a crash would, so the mean is not the best or the worst case.
func BenchmarkDetection(b *testing.B) {
	h := startController(b, nil)
	ctx := context.Background()
	h.waitHealthy()
	var worst time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		h.waitFor("normal with pool-a healthy", both(phaseIs(signaling.PhaseNormal), healthy("pool-a", true)))
		time.Sleep(rand.N(DefaultProbeInterval))
		start := time.Now()
		b.StartTimer()
		if err := h.home.Stop(); err != nil {
			b.Fatal(err)
		}
		h.waitFor("outage", phaseIs(signaling.PhaseOutage))
		b.StopTimer()
		worst = max(worst, time.Since(start))
		h.startHome()
		h.waitFor("pool-a back", healthy("pool-a", true))
		if _, err := h.c.Failback(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(worst)/float64(time.Millisecond), "max-ms")
}

// watchSettled is longer than stableConn: a watch connection this old is armed, its end
// taken as news about the pool.
const watchSettled = stableConn + 200*time.Millisecond

// waitWatched waits until pool p holds the controller's watch connection, then until
// that connection counts as settled.
func waitWatched(t *testing.T, p *drtest.Pool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for p.Connections() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the pool never got the controller's watch connection (it holds %d)", p.Connections())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(watchSettled)
}

// TestWatchNoticesDeadPool: a pool whose process is gone closes the watch connection
// and refuses the reconnection, which marks it down at once — here with so many probe
// misses needed that only the watch can have done it.
func TestWatchNoticesDeadPool(t *testing.T) {
	h := startController(t, func(c *Config) { c.ProbeMisses = 1_000_000 })
	h.waitHealthy()
	waitWatched(t, h.home)
	if err := h.home.Stop(); err != nil {
		t.Fatal(err)
	}
	s := h.waitFor("outage", phaseIs(signaling.PhaseOutage))
	if p := s.Pools[0]; p.Healthy || !strings.Contains(p.Detail, "reconnecting was refused") {
		t.Errorf("pool-a after its process went: %+v; want down by the watch connection", p)
	}
}

// TestWatchReconnectsToLivePool: a pool that drops the watch connection (reset) but
// still listens and answers is reconnected to and never marked down, drop after drop.
func TestWatchReconnectsToLivePool(t *testing.T) {
	t.Parallel()
	h := startController(t, nil)
	h.waitHealthy()
	for range 3 {
		waitWatched(t, h.home)
		h.home.DropConnections()
	}
	waitWatched(t, h.home) // reconnected after the last drop
	for {
		select {
		case s := <-h.snaps:
			if s.Phase != signaling.PhaseNormal || !poolHealthy(s, "pool-a") {
				t.Fatalf("a pool that only dropped its connection was taken for down: %+v", s)
			}
			continue
		default:
		}
		break
	}
	if s := h.c.Snapshot(); s.Phase != signaling.PhaseNormal || !poolHealthy(s, "pool-a") {
		t.Fatalf("after the drops: %+v", s)
	}
}

// TestWatchOff: with the watch disabled the controller opens no connection to a pool.
func TestWatchOff(t *testing.T) {
	h := startController(t, func(c *Config) { c.DisableConnectionWatch = true })
	h.waitHealthy()
	time.Sleep(watchSettled)
	if n := h.home.Connections(); n != 0 {
		t.Fatalf("pool-a holds %d connections with the watch off", n)
	}
}
