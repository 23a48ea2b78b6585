package failover

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parkway/parkway/browsertest"
	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/internal/soak"
	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/siptest"
)

// The soak (`go tool task soak`, never part of `go tool task test`): TestSoak runs only
// when -soak names a duration.
var (
	soakFor          = flag.Duration("soak", 0, "run TestSoak for this long (go tool task soak); 0 skips it")
	soakOut          = flag.String("soak-out", "", "directory for the soak's report, samples.csv and PNG plots (default: a temporary one)")
	soakBrowserCalls = flag.Int("soak-browser-calls", 10, "concurrent calls between pion browsers through the gateway (three browsers each)")
	soakSIPpCalls    = flag.Int("soak-sipp-calls", 90, "concurrent SIPp calls through pool-b")
	soakCycle        = flag.Duration("soak-cycle", 3*time.Minute, "time between pool-a kills (each followed by failover, restart and failback)")
	soakSample       = flag.Duration("soak-sample", 5*time.Second, "how often each process is sampled")
)

// TestSoak runs two pools and the gateway for -soak with -soak-browser-calls calls
// between pion browsers doing random things (hold, resume, transfer, park, retrieve,
// hang up) and -soak-sipp-calls SIPp calls, SIGKILLs pool-a every -soak-cycle and takes
// everyone through failover, restart and failback, samples every process, and writes a
// report: calls the seed's table says stay connected that did not (must be 0), parked
// calls lost other than at an outage of their pool (must be 0), and memory, threads,
// goroutines and open files over time as CSV and PNG.
func TestSoak(t *testing.T) {
	if *soakFor == 0 {
		t.Skip("the soak runs only with -soak DURATION (go tool task soak); it takes minutes to hours")
	}
	sipp := siptest.SIPpPath(t)
	out := *soakOut
	if out == "" {
		out = t.TempDir()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	groups := make([][3]string, *soakBrowserCalls)
	var users []string
	for g := range groups {
		for i := range 3 {
			groups[g][i] = fmt.Sprintf("soak%02d%c", g, 'a'+i)
			users = append(users, groups[g][i])
		}
	}
	users = append(users, "sippa", "sippb")
	// SIPp answers only MD5 digest challenges: the cluster's users are HA1 (MD5) hashes,
	// so the pools challenge with MD5 alone.
	// Every pion browser comes from 127.0.0.1: past the default 20 websockets per
	// address the gateway would refuse them (429), as it should a real client.
	c := startCluster(t, clusterOptions{users: users, gatewayYAML: "maxSessionsPerIP: 500\n", poolHTTP: true})
	var pidMu sync.Mutex
	pid := func(name string) func() int {
		return func() int {
			pidMu.Lock()
			defer pidMu.Unlock()
			if p := c.procs[name]; p != nil {
				select {
				case <-p.done:
					return 0
				default:
					return p.cmd.Process.Pid
				}
			}
			return 0
		}
	}
	sampler := &soak.Sampler{Interval: *soakSample, Targets: []soak.Target{
		{Name: "gateway", PID: pid("gateway"), Metrics: c.url + "/metrics"},
		{Name: "pool-a", PID: pid("pool-a"), Metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", c.ports["pool-a-http"])},
		{Name: "pool-b", PID: pid("pool-b"), Metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", c.ports["pool-b-http"])},
	}}
	sampleCtx, stopSampling := context.WithCancel(context.Background())
	sampled := make(chan struct{})
	go func() { defer close(sampled); sampler.Run(sampleCtx) }()
	defer func() { stopSampling(); <-sampled }()

	rep := &soakReport{start: time.Now()}
	sippRuns := startSoakSIPp(t, c, sipp, *soakSIPpCalls)

	// The browsers: one goroutine per group of three.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, g := range groups {
		phones := [3]*browsertest.Phone{c.phone(g[0]), c.phone(g[1]), c.phone(g[2])}
		wg.Go(func() { soakGroup(ctx, c, phones, rep) })
	}

	deadline := time.Now().Add(*soakFor)
	for time.Until(deadline) > *soakCycle/2+time.Minute {
		time.Sleep(min(*soakCycle, time.Until(deadline)))
		rep.cycle(t, c, &pidMu)
	}
	time.Sleep(time.Until(deadline))
	stop()
	wg.Wait()
	stopSampling()
	<-sampled
	sipps := stopSoakSIPp(t, sippRuns)

	rep.write(t, out, c, sampler, sipps)
}

// soakReport is what the groups and the kill cycles saw.
type soakReport struct {
	start time.Time

	mu              sync.Mutex
	calls           int            // browser calls connected (dialled, transferred to or retrieved)
	actions         map[string]int // action → done
	refused         map[string]int // action → refused by the gateway (a phase change raced it)
	setupFailed     []string       // calls that did not connect, and why
	dropped         []string       // calls that must have stayed up and ended
	parkedLost      []string       // parked calls that ended other than at their pool's outage
	parkedAtOutage  int            // parked calls ended with their pool, as the table says
	cycles          []string       // each kill cycle's timings
	cycleFailed     []string
	concurrentPeaks int
}

func (r *soakReport) note(m *map[string]int, k string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[k]++
}

func (r *soakReport) add(list *[]string, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*list = append(*list, fmt.Sprintf("%v ", time.Since(r.start).Round(time.Second))+fmt.Sprintf(format, args...))
}

// cycle kills pool-a, waits for failover, completes it, restarts pool-a and fails back.
// Parked calls on pool-a end with it (the table's "parked, when outage occurs").
func (r *soakReport) cycle(t *testing.T, c *cluster, pidMu *sync.Mutex) {
	t.Helper()
	t0 := time.Now()
	pidMu.Lock()
	c.kill("pool-a")
	pidMu.Unlock()
	c.waitStatus("failover after pool-a was killed", func(s dr.Snapshot) bool { return s.Phase == signaling.PhaseFailover })
	t1 := time.Now()
	c.failover()
	c.waitStatus("failed-over", func(s dr.Snapshot) bool { return s.Phase == signaling.PhaseFailedOver })
	time.Sleep(20 * time.Second) // calls are parked on pool-b meanwhile
	pidMu.Lock()
	c.startPool("pool-a")
	pidMu.Unlock()
	c.waitStatus("pool-a healthy", func(s dr.Snapshot) bool { return healthy(s, "pool-a") })
	t2 := time.Now()
	c.failback()
	c.waitStatus("normal after failback", func(s dr.Snapshot) bool { return s.Phase == signaling.PhaseNormal })
	r.add(&r.cycles, "pool-a SIGKILL → failover %v; failed-over 20 s; restart; failback → normal %v",
		t1.Sub(t0).Round(time.Millisecond), time.Since(t2).Round(time.Millisecond))
}

// soakGroup plays three browsers: two in a call, one free, doing random things until
// ctx ends, and reports every call that ended when the table says it must not.
func soakGroup(ctx context.Context, c *cluster, p [3]*browsertest.Phone, r *soakReport) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	sleep := func(lo, hi time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(lo + time.Duration(rng.Int64N(int64(hi-lo)))):
			return true
		}
	}
	step := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, wait) }
	for ctx.Err() == nil {
		// x calls y; z is free.
		perm := rng.Perm(3)
		x, y, z := p[perm[0]], p[perm[1]], p[perm[2]]
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		_, err := x.WaitCapability(wctx, signaling.ActionCall, true)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				r.add(&r.setupFailed, "%s never allowed to call: %v", x.User(), err)
			}
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 45*time.Second)
		cx, cy, err := callAndAnswer(cctx, x, y)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				r.add(&r.setupFailed, "%s → %s: %v", x.User(), y.User(), err)
				soakHangUp(x, y)
				sleep(time.Second, 3*time.Second)
			}
			continue
		}
		r.mu.Lock()
		r.calls++
		r.mu.Unlock()
		// up checks that the calls still up are up; an end nobody asked for is a drop.
		up := func(calls ...*browsertest.Call) bool {
			for _, cl := range calls {
				if last := cl.Last(); last.State == signaling.CallEnded {
					r.add(&r.dropped, "%s's call with %s ended: %q (phase %s)", cl.Last().ID, last.Peer, last.Reason, x.Phase())
					return false
				}
			}
			return true
		}
		for ctx.Err() == nil {
			if !sleep(2*time.Second, 6*time.Second) || !up(cx, cy) {
				break
			}
			allowed := func(ph *browsertest.Phone, a signaling.Action) bool {
				return ph.State().Capabilities[a].Allowed
			}
			switch n := rng.IntN(10); {
			case n < 3: // hold and resume
				if !allowed(x, signaling.ActionHold) {
					continue
				}
				sctx, cancel := step()
				err := cx.Hold(sctx)
				if err == nil && sleep(time.Second, 3*time.Second) {
					err = cx.Resume(sctx)
				}
				cancel()
				r.outcome("hold", err)
			case n < 5: // blind transfer of y to z
				if !allowed(x, signaling.ActionTransfer) {
					continue
				}
				cz, err := soakTransfer(ctx, cx, z)
				r.outcome("transfer", err)
				if err != nil {
					soakHangUp(p[0], p[1], p[2])
					goto next
				}
				r.mu.Lock()
				r.calls++
				r.mu.Unlock()
				x, cx, z = z, cz, x
			case n < 8: // park y, then retrieve it
				if !allowed(x, signaling.ActionPark) {
					continue
				}
				sctx, cancel := step()
				orbit, err := cx.Park(sctx, "")
				cancel()
				r.outcome("park", err)
				if err != nil {
					soakHangUp(p[0], p[1], p[2])
					goto next
				}
				pool := "pool-a"
				if strings.HasPrefix(orbit, "8") {
					pool = "pool-b"
				}
				sleep(time.Second, 4*time.Second)
				cr, err := soakRetrieve(ctx, x, orbit, cy)
				switch {
				case err == nil:
					r.outcome("retrieve", nil)
					r.mu.Lock()
					r.calls++
					r.mu.Unlock()
					cx = cr
				case cy.Last().State == signaling.CallEnded && cy.Last().Reason == "the park pool failed" && pool == "pool-a":
					r.mu.Lock()
					r.parkedAtOutage++
					r.mu.Unlock()
					soakHangUp(p[0], p[1], p[2])
					goto next
				case ctx.Err() != nil:
					goto next
				default:
					r.add(&r.parkedLost, "%s parked on %s orbit %s, not retrieved: %v; its call: %s %q", y.User(), pool, orbit, err, cy.Last().State, cy.Last().Reason)
					soakHangUp(p[0], p[1], p[2])
					goto next
				}
			default: // hang up
				sctx, cancel := step()
				err := cx.Hangup(sctx)
				if err == nil {
					_, err = cy.WaitState(sctx, signaling.CallEnded)
				}
				cancel()
				r.outcome("hang up", err)
				goto next
			}
		}
		if ctx.Err() == nil {
			soakHangUp(p[0], p[1], p[2])
		}
	next:
	}
	soakHangUp(p[0], p[1], p[2])
}

// outcome counts a finished action, or a refusal, or reports another error as a
// setup failure.
func (r *soakReport) outcome(action string, err error) {
	var se *signaling.Error
	switch {
	case err == nil:
		r.note(&r.actions, action)
	case errors.As(err, &se) && se.Code == signaling.CodeRefused:
		r.note(&r.refused, action)
	default:
		r.add(&r.setupFailed, "%s: %v", action, err)
	}
}

// callAndAnswer has x call y, who answers, within ctx: without connectCall's audio
// checks and its test-fatal errors, for goroutines and for steps that may take long.
func callAndAnswer(ctx context.Context, x, y *browsertest.Phone) (cx, cy *browsertest.Call, err error) {
	cx, err = x.Call(ctx, y.User())
	if err != nil {
		return nil, nil, err
	}
	cy, err = y.WaitIncoming(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := cy.Answer(ctx); err != nil {
		return nil, nil, err
	}
	for _, cl := range []*browsertest.Call{cx, cy} {
		if _, err := cl.WaitState(ctx, signaling.CallActive); err != nil {
			return nil, nil, err
		}
	}
	return cx, cy, nil
}

// soakTransfer has the holder of cx blind-transfer its peer to z, who answers.
func soakTransfer(ctx context.Context, cx *browsertest.Call, z *browsertest.Phone) (*browsertest.Call, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cx.Transfer(ctx, z.User()) }()
	cz, err := z.WaitIncoming(ctx)
	if err != nil {
		return nil, errors.Join(err, <-done)
	}
	if err := cz.Answer(ctx); err != nil {
		return nil, errors.Join(err, <-done)
	}
	if err := <-done; err != nil {
		return nil, err
	}
	_, err = cz.WaitState(ctx, signaling.CallActive)
	return cz, err
}

// soakRetrieve has x retrieve orbit, trying again while the phase refuses it, until it
// works or the parked call ends.
func soakRetrieve(ctx context.Context, x *browsertest.Phone, orbit string, parked *browsertest.Call) (*browsertest.Call, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		sctx, cancel := context.WithTimeout(ctx, wait)
		cr, err := x.Retrieve(sctx, orbit)
		if err == nil {
			_, err = cr.WaitState(sctx, signaling.CallActive)
		}
		cancel()
		if err == nil {
			return cr, nil
		}
		if parked.Last().State == signaling.CallEnded || ctx.Err() != nil || time.Now().After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// soakHangUp ends every call the phones still have, so the group starts afresh.
func soakHangUp(phones ...*browsertest.Phone) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for _, p := range phones {
		_ = p.HangUpAll(ctx)
	}
}

// startSoakSIPp registers the SIPp callee at pool-b, and starts it and the caller.
func startSoakSIPp(t *testing.T, c *cluster, bin string, calls int) []*siptest.SIPpRun {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	scen := func(name string) string { return filepath.Join(wd, "testdata", "sipp", name) }
	pool := fmt.Sprintf("127.0.0.1:%d", c.ports["pool-b"])
	calleePort, regPort, callerPort := freePort(t), freePort(t), freePort(t)
	dir := t.TempDir()
	inf := siptest.SIPpInjection(t, dir, "callee", "pool-b", fmt.Sprintf("127.0.0.1:%d", calleePort), "3600")
	reg := siptest.StartSIPp(t, bin, "register sippb", dir, pool, "-sf", scen("soak_register.xml"), "-inf", inf,
		"-i", "127.0.0.1", "-p", strconv.Itoa(regPort), "-t", "u1", "-nostdin", "-m", "1",
		"-s", "sippb", "-au", "sippb", "-ap", password("sippb"), "-timeout", "15s", "-timeout_error")
	if over, err := reg.Wait(step(t)); !over || err != nil {
		t.Fatalf("SIPp registration: exited %v, %v\n%s", over, err, reg.Output())
	}
	common := []string{"-i", "127.0.0.1", "-t", "u1", "-nostdin", "-trace_stat", "-fd", "5", "-trace_err", "-max_recv_loops", "1000", "-max_sched_loops", "1000"}
	callee := siptest.StartSIPp(t, bin, "sipp callee", dir, append([]string{"-sf", scen("soak_answerer.xml"), "-s", "sippb",
		"-p", strconv.Itoa(calleePort), "-stf", "callee-stats.csv"}, common...)...)
	callerInf := siptest.SIPpInjection(t, dir, "caller", "pool-b", "sippa")
	rate := max(1, calls/10) // calls last 10 s on average
	caller := siptest.StartSIPp(t, bin, "sipp caller", dir, append([]string{pool, "-sf", scen("soak_caller.xml"),
		"-inf", callerInf, "-s", "sippb", "-au", "sippa", "-ap", password("sippa"), "-auth_uri", "sippb@" + pool,
		"-p", strconv.Itoa(callerPort), "-r", strconv.Itoa(rate), "-l", strconv.Itoa(calls), "-stf", "caller-stats.csv"}, common...)...)
	return []*siptest.SIPpRun{caller, callee}
}

// stopSoakSIPp asks each SIPp to finish its calls and stop (SIGUSR1), and returns what
// its last statistics line says.
func stopSoakSIPp(t *testing.T, runs []*siptest.SIPpRun) []string {
	t.Helper()
	var out []string
	for _, s := range runs {
		_ = syscall.Kill(s.Pid(), syscall.SIGUSR1)
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		if over, _ := s.Wait(ctx); !over {
			s.Kill()
			s.Wait(context.Background())
		}
		cancel()
		line := s.Name + ": " + sippStats(filepath.Join(s.Dir, strings.ReplaceAll(strings.TrimPrefix(s.Name, "sipp "), " ", "")+"-stats.csv"))
		scenario := map[string]string{"sipp caller": "soak_caller", "sipp callee": "soak_answerer"}[s.Name]
		if errs, _ := filepath.Glob(filepath.Join(s.Dir, scenario+"_*_errors.log")); len(errs) > 0 && !strings.Contains(line, " 0 failed") {
			for _, e := range errs {
				if data, err := os.ReadFile(e); err == nil && len(data) > 0 {
					lines := strings.Split(strings.TrimSpace(string(data)), "\n")
					line += fmt.Sprintf("\n  %s, first errors:\n    %s", filepath.Base(e), strings.Join(first(lines, 6), "\n    "))
				}
			}
		}
		out = append(out, line)
	}
	return out
}

// sippStats reads the last line of a SIPp -trace_stat file: calls made, succeeded,
// failed, and the peak of concurrent calls.
func sippStats(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "no statistics: " + err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) < 2 {
		return "no statistics yet"
	}
	head := strings.Split(lines[0], ";")
	var peak int
	col := func(fields []string, name string) string {
		for i, h := range head {
			if h == name && i < len(fields) {
				return fields[i]
			}
		}
		return "?"
	}
	for _, l := range lines[1:] {
		if n, err := strconv.Atoi(col(strings.Split(l, ";"), "CurrentCall")); err == nil && n > peak {
			peak = n
		}
	}
	last := strings.Split(lines[len(lines)-1], ";")
	return fmt.Sprintf("%s calls created, %s successful, %s failed, peak %d concurrent",
		col(last, "TotalCallCreated"), col(last, "SuccessfulCall(C)"), col(last, "FailedCall(C)"), peak)
}

// write writes the report, samples.csv and the plots into dir, logs the report, and
// fails the test on a dropped call or a parked call lost.
func (r *soakReport) write(t *testing.T, dir string, c *cluster, s *soak.Sampler, sipps []string) {
	t.Helper()
	samples := s.Samples()
	f, err := os.Create(filepath.Join(dir, "samples.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := soak.WriteCSV(f, samples); err != nil {
		t.Fatal(err)
	}
	f.Close()
	mib := float64(1024)
	charts := map[string]soak.Chart{
		"rss.png":        {Title: "resident memory", YLabel: "MIB", Scale: mib, Series: soak.SeriesOf(samples, func(s soak.Sample) int64 { return s.RSSKiB })},
		"heap.png":       {Title: "data segment (go heap and stacks)", YLabel: "MIB", Scale: mib, Series: soak.SeriesOf(samples, func(s soak.Sample) int64 { return s.DataKiB })},
		"threads.png":    {Title: "os threads", Series: soak.SeriesOf(samples, func(s soak.Sample) int64 { return s.Threads })},
		"open-files.png": {Title: "open files", Series: soak.SeriesOf(samples, func(s soak.Sample) int64 { return s.FDs })},
	}
	if g := soak.SeriesOf(samples, func(s soak.Sample) int64 { return s.Goroutines }); len(g) > 0 {
		charts["goroutines.png"] = soak.Chart{Title: "goroutines", Series: g}
		charts["go-heap.png"] = soak.Chart{Title: "go heap in use", YLabel: "MIB", Scale: mib * 1024, Series: soak.SeriesOf(samples, func(s soak.Sample) int64 { return s.HeapBytes })}
	}
	for name, ch := range charts {
		pf, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.WritePNG(pf); err != nil {
			t.Fatal(err)
		}
		pf.Close()
	}

	var b strings.Builder
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(&b, "Parkway soak: %v, %d browser calls at a time (3 pion browsers each) and %d SIPp calls at a time; pool-a killed every %v\n",
		*soakFor, *soakBrowserCalls, *soakSIPpCalls, *soakCycle)
	fmt.Fprintf(&b, "machine: %s\n\n", machine())
	fmt.Fprintf(&b, "calls that had to stay connected and did not: %d\n", len(r.dropped))
	fmt.Fprintf(&b, "parked calls lost (other than with their pool at an outage): %d\n", len(r.parkedLost))
	fmt.Fprintf(&b, "parked calls ended with pool-a at its outage, as the table says: %d\n", r.parkedAtOutage)
	fmt.Fprintf(&b, "browser calls connected: %d; actions done: %s; refused by a phase change: %s\n", r.calls, counts(r.actions), counts(r.refused))
	fmt.Fprintf(&b, "browser calls or actions that failed (not drops): %d\n", len(r.setupFailed))
	for _, l := range sipps {
		fmt.Fprintf(&b, "%s\n", l)
	}
	fmt.Fprintf(&b, "\nkill cycles: %d\n", len(r.cycles))
	for _, l := range r.cycles {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	fmt.Fprintf(&b, "\nper process, first and last sample (rss MiB, data MiB, threads, open files, goroutines):\n")
	for _, name := range []string{"gateway", "pool-a", "pool-b"} {
		var first, last *soak.Sample
		for i := range samples {
			if samples[i].Process == name {
				if first == nil {
					first = &samples[i]
				}
				last = &samples[i]
			}
		}
		if first != nil {
			fmt.Fprintf(&b, "  %-8s %s → %s\n", name, sampleLine(*first), sampleLine(*last))
		}
	}
	if why := s.NoMetrics()["gateway"]; why != "" {
		fmt.Fprintf(&b, "gateway /metrics: not available (%s); goroutines and Go heap are not plotted\n", why)
	} else if body, err := fetch(c.url + "/metrics"); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "metrics-end.txt"), body, 0o644)
		fmt.Fprintf(&b, "gateway /metrics at the end: metrics-end.txt\n")
	}
	for _, list := range []struct {
		name  string
		lines []string
	}{{"dropped", r.dropped}, {"parked lost", r.parkedLost}, {"failed (first 20)", first(r.setupFailed, 20)}} {
		for _, l := range list.lines {
			fmt.Fprintf(&b, "%s: %s\n", list.name, l)
		}
	}
	report := b.String()
	if err := os.WriteFile(filepath.Join(dir, "report.txt"), []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("soak report (%s):\n%s", dir, report)
	if len(r.dropped) > 0 || len(r.parkedLost) > 0 {
		t.Errorf("%d calls dropped that the table says stay connected, %d parked calls lost", len(r.dropped), len(r.parkedLost))
	}
}

func sampleLine(s soak.Sample) string {
	return fmt.Sprintf("%.0fs: %.1f, %.1f, %d, %d, %d", s.At.Seconds(), float64(s.RSSKiB)/1024, float64(s.DataKiB)/1024, s.Threads, s.FDs, s.Goroutines)
}

func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func first(l []string, n int) []string { return l[:min(n, len(l))] }

func machine() string {
	var u syscall.Utsname
	_ = syscall.Uname(&u)
	str := func(a [65]int8) string {
		var b []byte
		for _, c := range a {
			if c == 0 {
				break
			}
			b = append(b, byte(c))
		}
		return string(b)
	}
	model := "unknown cpu"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "model name") {
				_, model, _ = strings.Cut(l, ": ")
				break
			}
		}
	}
	return fmt.Sprintf("%s %s, %d cores, %s", str(u.Sysname), str(u.Release), runtime.NumCPU(), model)
}

// fetch GETs url and returns its body when the answer is 200.
func fetch(url string) ([]byte, error) {
	res, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, res.Status)
	}
	return io.ReadAll(res.Body)
}
