package rtpload_test

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parkway/parkway/internal/soak"
	"github.com/parkway/parkway/media/ngrelay"
	"github.com/parkway/parkway/media/rtpload"
)

// BenchmarkRelayProcesses plays the same RTP load — N concurrent G.711
// calls, 100 packets/s each, from cmd/rtpload in a process of its own
// (batched, paced sends; kernel arrival times; see the package comment
// for what "late" and "lost" mean) —
// through each relay under test, each in a process of its own, and
// reports the relay process's CPU per forwarded packet and memory per call
// beside the load generator's loss, lateness and one-way latency:
//
//   - target=direct: no relay, the parties send to each other: the load
//     generator's self-check (what it and the machine add; no relay CPU);
//   - target=plain: the plain Go forwarder (cmd/rtprelay -mode plain);
//   - target=relay-goroutines: media.Relay with a goroutine per socket;
//   - target=relay: media.Relay on the shared epoll/recvmmsg poller, the
//     path every Bridge's SIP side now takes;
//   - target=relay-shared: every call on one shared port (media.MuxRelay:
//     one recvmmsg and one sendmmsg carry the packets of many calls);
//   - target=rtpengine: rtpengine's userspace forwarding (no kernel
//     module), installed by scripts/install-rtpengine.sh when missing.
//
// The runs go calls-major with the targets interleaved (and repeated
// MEDIA_RELAY_REPEAT times), so drifting load on a shared machine hits
// every target alike. target=X/calls=N/median then reports each metric's
// median over the repeats (what BENCHMARKS.md shows: at 100 calls a run
// is ≈ 0.5 s of relay CPU, and one disturbed run must not move the row).
// Then target=X/summary reports max-calls (the most
// calls at which every run had < 0.1 % lost and < 1 % late),
// cpu-growth-vs-linear (relay CPU at 1,000 calls ÷ at 100 ÷ 10, or
// between the fewest and most calls run when those are not), and the
// median CPU per packet as a ratio to plain's (cpu-x-plain) and
// rtpengine's (cpu-x-rtpengine) measured in the same run.
//
//	./scripts/loopback-only.sh go test ./media/rtpload -run XXX -bench RelayProcesses -benchtime 1x
//	MEDIA_RELAY_CALLS=100,250,500,1000,1500 MEDIA_RELAY_SECONDS=10 MEDIA_RELAY_PROFILES=/tmp/prof ...
const (
	envCalls    = "MEDIA_RELAY_CALLS"    // comma-separated call counts; default 100,250,500,1000,1500
	envSeconds  = "MEDIA_RELAY_SECONDS"  // measured seconds per run; default 10
	envTargets  = "MEDIA_RELAY_TARGETS"  // default direct,plain,relay-goroutines,relay,relay-shared,rtpengine
	envProfiles = "MEDIA_RELAY_PROFILES" // directory for the relays' pprof profiles; default -test.outputdir when set
	envRepeat   = "MEDIA_RELAY_REPEAT"   // runs of each target at each count, interleaved; default 1
	// envRealtime, set to 1, runs each relay at nice −20 (nice(1)), as the
	// load generator runs when root: on a machine busy with
	// other work the relay's lateness is then the relay's, not its
	// neighbours'. Off by default: a relay in production runs at normal
	// priority.
	envRealtime = "MEDIA_RELAY_REALTIME"
)

// lateLimit is how long after its due time a packet may arrive and not
// be late: one packet interval, about what a browser's jitter buffer
// holds early on.
const lateLimit = 20 * time.Millisecond

type relayRun struct {
	res        rtpload.Result
	cpuPerPkt  time.Duration // relay process CPU per forwarded packet
	cpuPct     float64       // relay process CPU, % of one core
	bytesPerCl float64       // relay RSS growth per call
}

func BenchmarkRelayProcesses(b *testing.B) {
	logMachine(b)
	b.Logf("load generator at nice -20 on one CPU: %v; relays at nice -20 (%s): %v", os.Geteuid() == 0, envRealtime, os.Getenv(envRealtime) == "1")
	bins := buildBinaries(b)
	secs := 10
	if v := envList(envSeconds, nil); len(v) > 0 {
		secs = v[0]
	}
	calls := envList(envCalls, []int{100, 250, 500, 1000, 1500})
	targets := strings.Split(cmp.Or(os.Getenv(envTargets), "direct,plain,relay-goroutines,relay,relay-shared,rtpengine"), ",")
	profiles := cmp.Or(os.Getenv(envProfiles), outputDir())
	repeat := 1
	if v := envList(envRepeat, nil); len(v) > 0 {
		repeat = v[0]
	}
	// Calls-major and targets interleaved, repeated: on a shared machine
	// the load drifts, and every target should see the same drift.
	runs := map[string]map[int][]relayRun{}
	for _, n := range calls {
		for range repeat {
			for _, target := range targets {
				if runs[target] == nil {
					runs[target] = map[int][]relayRun{}
				}
				b.Run(fmt.Sprintf("target=%s/calls=%d", target, n), func(b *testing.B) {
					for b.Loop() {
						r := runTarget(b, bins, target, n, time.Duration(secs)*time.Second, profiles)
						runs[target][n] = append(runs[target][n], r)
						for _, m := range runMetrics(target, r) {
							b.ReportMetric(m.Value, m.Unit)
						}
						b.ReportMetric(0, "ns/op") // one iteration is a whole run; see the metrics
					}
				})
			}
		}
	}
	// Each target's median at each count over the repeats, metric by
	// metric, under the name BENCHMARKS.md reads (a single run is its own
	// median): one run disturbed by the machine's other work moves no row.
	for _, n := range calls {
		for _, target := range targets {
			rs := runs[target][n]
			if len(rs) == 0 {
				continue
			}
			b.Run(fmt.Sprintf("target=%s/calls=%d/median", target, n), func(b *testing.B) {
				for b.Loop() {
				}
				for _, m := range medianMetrics(target, rs) {
					b.ReportMetric(m.Value, m.Unit)
				}
				b.ReportMetric(0, "ns/op")
			})
		}
	}
	for _, target := range targets {
		b.Run(fmt.Sprintf("target=%s/summary", target), func(b *testing.B) {
			for b.Loop() {
			}
			summarize(b, target, calls, runs)
		})
	}
}

// runMetrics are the numbers one run of target reports.
func runMetrics(target string, r relayRun) []rtpload.Metric {
	ms := r.res.Metrics()
	if target != "direct" {
		ms = append(ms,
			rtpload.Metric{Value: float64(r.cpuPerPkt.Nanoseconds()) / 1e3, Unit: "cpu-µs/packet"},
			rtpload.Metric{Value: r.cpuPct, Unit: "relay-cpu-%"},
			rtpload.Metric{Value: r.bytesPerCl / (1 << 20), Unit: "MiB/call"})
	}
	return ms
}

// medianMetrics is, for each metric of target's runs rs, the median
// (of an even count, the mean of the middle two), and the number of runs.
func medianMetrics(target string, rs []relayRun) []rtpload.Metric {
	byUnit := map[string][]float64{}
	var units []string
	for _, r := range rs {
		for _, m := range runMetrics(target, r) {
			if byUnit[m.Unit] == nil {
				units = append(units, m.Unit)
			}
			byUnit[m.Unit] = append(byUnit[m.Unit], m.Value)
		}
	}
	var out []rtpload.Metric
	for _, u := range units {
		v := byUnit[u]
		slices.Sort(v)
		med := v[len(v)/2]
		if len(v)%2 == 0 {
			med = (v[len(v)/2-1] + med) / 2
		}
		out = append(out, rtpload.Metric{Value: med, Unit: u})
	}
	return append(out, rtpload.Metric{Value: float64(len(rs)), Unit: "runs"})
}

// summarize reports, over the runs of one target: max-calls (the most
// calls at which every run had < 0.1 % lost and < 1 % late), how its CPU grew
// from the fewest calls to the most against linear growth, and the
// median of its CPU per packet as a ratio to plain's and rtpengine's
// medians at the same call counts.
func summarize(b *testing.B, target string, calls []int, runs map[string]map[int][]relayRun) {
	maxCalls := 0
	for n, rs := range runs[target] {
		pass := len(rs) > 0
		for _, r := range rs {
			pass = pass && r.res.LossPct < 0.1 && r.res.LatePct < 1
		}
		if pass && n > maxCalls {
			maxCalls = n
		}
	}
	b.ReportMetric(float64(maxCalls), "max-calls")
	median := func(t string, n int, f func(relayRun) float64) float64 {
		var v []float64
		for _, r := range runs[t][n] {
			v = append(v, f(r))
		}
		if len(v) == 0 {
			return 0
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	cpuPct := func(r relayRun) float64 { return r.cpuPct }
	perPkt := func(r relayRun) float64 { return float64(r.cpuPerPkt) }
	lo, hi := slices.Min(calls), slices.Max(calls)
	if slices.Contains(calls, 100) && slices.Contains(calls, 1000) {
		lo, hi = 100, 1000 // the question: how CPU grows from 100 to 1,000 calls
	}
	if target != "direct" && lo != hi && median(target, lo, cpuPct) > 0 {
		// 1 is linear; below it economies of scale (batching), above it contention.
		b.ReportMetric(median(target, hi, cpuPct)/median(target, lo, cpuPct)/(float64(hi)/float64(lo)), "cpu-growth-vs-linear")
	}
	for _, other := range []string{"plain", "rtpengine"} {
		if target == other || target == "direct" {
			continue
		}
		var sum float64
		k := 0
		for _, n := range calls {
			mine, theirs := median(target, n, perPkt), median(other, n, perPkt)
			if mine > 0 && theirs > 0 {
				sum += mine / theirs
				k++
			}
		}
		if k > 0 {
			b.ReportMetric(sum/float64(k), "cpu-x-"+other)
		}
	}
	b.ReportMetric(0, "ns/op")
}

// runLimit is how long one run may take: the warm-up, the window and the
// grace, and setting up and deleting n calls over ng (well under a
// millisecond each when the relay keeps up). Past it the load generator is
// sent SIGTERM and reports the part of the window it played, and the run
// fails as "timed out" (its rows then say so); killLimit later it is
// killed.
func runLimit(n int, window time.Duration) time.Duration {
	return 30*time.Second + 2*window + time.Duration(n)*20*time.Millisecond
}

const killLimit = 45 * time.Second

// runTarget starts target's relay process (none for direct), plays n
// calls through it with cmd/rtpload and samples the relay's CPU and
// memory over the measured window.
func runTarget(b *testing.B, bins binaries, target string, n int, window time.Duration, profiles string) relayRun {
	var relay *exec.Cmd
	ng := ""
	if target != "direct" {
		ng = freeUDPPort(b)
		relay = startRelay(b, bins, target, ng, n, profiles)
		defer stopRelay(b, relay)
		waitPing(b, ng)
	}
	rss0 := int64(0)
	if relay != nil {
		rss0 = procRSS(relay.Process.Pid)
	}
	args := []string{"-calls", strconv.Itoa(n), "-warmup", "2s", "-duration", window.String(), "-late", lateLimit.String()}
	if os.Geteuid() == 0 {
		// High priority (nice -20, one CPU) keeps the load on schedule on a machine busy
		// with other work (see the package comment); it needs root.
		args = append(args, "-realtime")
	}
	if ng != "" {
		args = append(args, "-ng", ng)
	}
	load := exec.Command(bins.load, args...)
	load.Stderr = os.Stderr
	childOfTest(load)
	out, err := load.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := load.Start(); err != nil {
		b.Fatal(err)
	}
	limit := runLimit(n, window)
	var timedOut atomic.Bool
	term := time.AfterFunc(limit, func() {
		timedOut.Store(true)
		_ = load.Process.Signal(syscall.SIGTERM)
	})
	kill := time.AfterFunc(limit+killLimit, func() { _ = load.Process.Kill() })
	defer term.Stop()
	defer kill.Stop()
	var run relayRun
	var cpu0 time.Duration
	var t0 time.Time
	var rss1 int64
	got := false
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == rtpload.WindowStart && relay != nil:
			cpu0, t0 = soak.CPU(relay.Process.Pid), time.Now()
			rss1 = procRSS(relay.Process.Pid)
		case line == rtpload.WindowEnd && relay != nil:
			cpu := soak.CPU(relay.Process.Pid) - cpu0
			run.cpuPct = 100 * cpu.Seconds() / time.Since(t0).Seconds()
			run.cpuPerPkt = cpu // divided by the packets below
		case strings.HasPrefix(line, rtpload.ResultPrefix):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, rtpload.ResultPrefix)), &run.res); err != nil {
				b.Fatalf("rtpload result %q: %v", line, err)
			}
			got = true
		}
	}
	err = load.Wait()
	if timedOut.Load() {
		part := "no result"
		if got {
			part = fmt.Sprintf("its result over the first %.1f s: sent %d, lost %.3f %%, late %.3f %%", run.res.Seconds, run.res.Sent, run.res.LossPct, run.res.LatePct)
		}
		b.Fatalf("rtpload against %s with %d calls timed out after %.0f s (SIGTERM; relay CPU %s): %s", target, n, limit.Seconds(), relayCPUNow(relay), part)
	}
	if err != nil || !got {
		b.Fatalf("rtpload against %s with %d calls: %v (result seen: %v)", target, n, err, got)
	}
	if run.res.Received > 0 {
		run.cpuPerPkt /= time.Duration(run.res.Received)
	}
	run.bytesPerCl = float64(rss1-rss0) / float64(n)
	if run.res.Overrun {
		b.Logf("%s, %d calls: the load generator fell more than 1 s behind its schedule and stopped sending", target, n)
	}
	load1, _ := os.ReadFile("/proc/loadavg")
	b.Logf("%s, %d calls: relay CPU %.1f %% of a core, %v/packet, RSS +%.0f KiB/call; loadgen CPU %.1f %%, send lag p99 %v, drops %d; sent %d, lost %.3f %%, late %.3f %%, p50 %v, p99 %v, misrouted %d, dup %d; load average %s",
		target, n, run.cpuPct, run.cpuPerPkt, run.bytesPerCl/1024, run.res.LoadCPU, run.res.SendLagP99, run.res.ReceiveDrops, run.res.Sent,
		run.res.LossPct, run.res.LatePct, run.res.P50, run.res.P99, run.res.Misrouted, run.res.Duplicates, strings.Join(strings.Fields(string(load1))[:3], " "))
	return run
}

// relayCPUNow is the relay's CPU time so far, for a message.
func relayCPUNow(relay *exec.Cmd) string {
	if relay == nil {
		return "none"
	}
	return soak.CPU(relay.Process.Pid).String()
}

func startRelay(b *testing.B, bins binaries, target, ng string, n int, profiles string) *exec.Cmd {
	var cmd *exec.Cmd
	if target == "rtpengine" {
		bin := rtpengineBinary(b)
		_, port, _ := strings.Cut(ng, ":")
		cmd = exec.Command(bin, "--config-file=none", "--foreground", "--log-stderr", "--log-level=3",
			"--table=-1", "--interface=127.0.0.1", "--listen-ng=127.0.0.1:"+port,
			"--port-min=20000", "--port-max=29999", "--delete-delay=0", "--timeout=120")
	} else {
		mode, err := ngrelay.ParseMode(target)
		if err != nil {
			b.Fatalf("MEDIA_RELAY_TARGETS: %v", err)
		}
		args := []string{"-ng", ng, "-mode", string(mode)}
		if profiles != "" {
			base := filepath.Join(profiles, fmt.Sprintf("relay-%s-%d", mode, n))
			args = append(args, "-cpuprofile", base+".cpu.pprof", "-memprofile", base+".allocs.pprof")
		}
		cmd = exec.Command(bins.relay, args...)
	}
	if os.Getenv(envRealtime) == "1" {
		nice, err := exec.LookPath("nice")
		if err != nil {
			b.Fatalf("%s=1: %v", envRealtime, err)
		}
		cmd.Args = append([]string{nice, "-n", "-20"}, cmd.Args...) // nice execs the relay: the pid stays the relay's
		cmd.Path = nice
	}
	cmd.Stderr = os.Stderr
	childOfTest(cmd)
	if err := cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", target, err)
	}
	return cmd
}

// stopRelay ends the relay with SIGTERM (so it writes its profiles) and
// kills it if it has not exited within 10 s.
func stopRelay(b *testing.B, cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		b.Logf("relay %v did not exit within 10 s of SIGTERM; killed", cmd.Args[0])
	}
}

func waitPing(b *testing.B, ng string) {
	c, err := ngrelay.Dial(mustAddrPort(b, ng))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		if err := c.Ping(ctx); err == nil {
			return
		} else if ctx.Err() != nil {
			b.Fatalf("relay at %s never answered ping: %v", ng, err)
		}
	}
}

type binaries struct{ relay, load string }

var (
	buildOnce sync.Once
	built     binaries
	buildErr  error
)

// buildBinaries builds cmd/rtprelay and cmd/rtpload once per test binary.
func buildBinaries(b *testing.B) binaries {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rtpload-bin-")
		if err != nil {
			buildErr = err
			return
		}
		cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "github.com/parkway/parkway/cmd/rtprelay", "github.com/parkway/parkway/cmd/rtpload")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		built = binaries{relay: filepath.Join(dir, "rtprelay"), load: filepath.Join(dir, "rtpload")}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return built
}

// rtpengineBinary finds rtpengine, installing it with
// scripts/install-rtpengine.sh when it is missing.
func rtpengineBinary(b *testing.B) string {
	if p, err := exec.LookPath("rtpengine"); err == nil {
		return p
	}
	out, err := exec.Command("../../scripts/install-rtpengine.sh").Output()
	if err != nil {
		b.Fatalf("rtpengine missing and scripts/install-rtpengine.sh failed: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// procRSS is a process's resident set in bytes.
func procRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func freeUDPPort(b *testing.B) string {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

func logMachine(b *testing.B) {
	model := "unknown"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	uname, _ := exec.Command("uname", "-srm").Output()
	load, _ := os.ReadFile("/proc/loadavg")
	b.Logf("machine: %s, nproc %d, %s, %s; load average %s", strings.TrimSpace(string(uname)), runtime.NumCPU(), model, runtime.Version(), strings.Join(strings.Fields(string(load))[:3], " "))
}

func outputDir() string {
	if f := flag.Lookup("test.outputdir"); f != nil {
		return f.Value.String()
	}
	return ""
}

func envList(name string, def []int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return cmpOrList(out, def)
}

func cmpOrList(a, def []int) []int {
	if len(a) == 0 {
		return def
	}
	return a
}

func mustAddrPort(b *testing.B, s string) netip.AddrPort {
	a, err := netip.ParseAddrPort(s)
	if err != nil {
		b.Fatal(err)
	}
	return a
}
