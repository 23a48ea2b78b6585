package pool

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parkway/parkway/siptest"
)

// BenchmarkSIPpParkRetrieve measures park + retrieve cycles against one `parkway pool`
// process driven by four SIPp processes (the scenarios in testdata/sipp: parker.xml,
// parked.xml, answerer.xml, retriever.xml). One cycle: alice calls bob, blind-transfers
// him (REFER) to orbit 1000xx, bob INVITEs the park service and hears music on hold;
// two seconds later carol dials the orbit, the park service REFERs bob to carol's phone
// and drops out; bob hangs up. Each offered rate is a sub-benchmark with a fresh pool:
//
//	./scripts/loopback-only.sh go test ./pool -run '^$' -bench SIPpParkRetrieve -benchtime 1x -outputdir /tmp/bench
//	PARKWAY_BENCH_RATES=100,300,600,1000,1500   # cycles/s offered, one sub-benchmark each (default)
//	PARKWAY_BENCH_SECONDS=10                    # how long each rate is offered
//	PARKWAY_BENCH_TRACE=1                       # keep every message of a failed round (below); =keep: of every round
//	PARKWAY_BENCH_WARMUP=40                     # seconds of the same load first, on the same pool (below)
//
// Without PARKWAY_BENCH_WARMUP the round measures a pool just started: its start-up
// admission ramp (overload.go: fewer than 1,000 new calls a second for its first ≈ 6 s)
// and its heap's first growth (page faults, pool-faults/cycle) are in the numbers. With
// it, the same rate is offered to the same pool for that many seconds first (orbits
// 500000 on) and the round measured is the one after it, which is what a long-running
// pool does — past its ramp at once, and past the 32 s a finished call's state is kept
// (its heap at full size) with 40 s or more; the warm-up
// round's own numbers are reported beside it as fresh-cycles/s, fresh-cycles-failed,
// fresh-pool-cpu-ms/cycle and fresh-pool-faults/cycle (internal/parkanchor's Asterisk
// anchor takes the same variable). The pool's profiles then cover both rounds.
//
// It reports, per rate: cycles/s (retrievals a second at the pool, between 10 % and
// 90 % of them), cycles-done and cycles-failed (end to end at bob: failed = offered −
// done − shed), cycles-shed (cycles answered 503 at their first INVITE), 503s (every
// 503 a phone got), udp-drops (datagrams the kernel dropped at the pool process's
// sockets for a full receive buffer), sipp-udp-drops (the same at the SIPps' SIP sockets:
// a datagram lost there fails its cycle, whatever the pool did), pool-cpu-ms/cycle
// (user+system CPU of the pool process from /proc, per cycle done), pool-faults/cycle
// (its minor page faults, the fresh memory its heap took), pool-cpu-%, and the five SIPps'
// user+system CPU as sipp-cpu-ms/cycle and sipp-cpu-% (they share the pool's CPUs under
// bench-anchors' taskset: what they take is what the pool cannot have). With -outputdir it writes the pool's CPU and
// allocation profiles there (pool-cpu-rate<N>.pprof, pool-allocs-rate<N>.pprof) and, in
// sipp-rate<N>/, each SIPp's log of unexpected messages and timeouts (*errors.log) and its
// statistics. With PARKWAY_BENCH_TRACE=1 as well, the SIPps log every message they send
// and receive (-trace_msg) and the pool captures its SIP and its park service's
// (--sip-capture); when a cycle failed both are kept there too (sipp-rate<N>/*messages.log,
// pool-rate<N>.pcap, for tshark or sngrep), and thrown away otherwise. Tracing costs the
// pool ≈ a write per message and SIPp more: its numbers are not the untraced ones. It
// never fails on a number: a benchmark reports, it does not judge.
func BenchmarkSIPpParkRetrieve(b *testing.B) {
	bin := requireSIPp(b)
	seconds := 10
	if v, err := strconv.Atoi(os.Getenv("PARKWAY_BENCH_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	for _, rate := range benchRates(b) {
		b.Run("rate="+strconv.Itoa(rate), func(b *testing.B) {
			var sum parkRound
			for i := 0; i < b.N; i++ {
				sum.add(runParkRound(b, bin, rate, seconds))
			}
			sum.report(b)
		})
	}
}

// benchRates reads PARKWAY_BENCH_RATES (or the older PARKWAY_BENCH_RATE, one rate).
func benchRates(b *testing.B) []int {
	spec := os.Getenv("PARKWAY_BENCH_RATES")
	if spec == "" {
		spec = os.Getenv("PARKWAY_BENCH_RATE")
	}
	if spec == "" {
		spec = "100,300,600,1000,1500"
	}
	var rates []int
	for _, f := range strings.Split(spec, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r <= 0 {
			b.Fatalf("PARKWAY_BENCH_RATES=%q: %q is not a positive number of cycles a second", spec, f)
		}
		rates = append(rates, r)
	}
	return rates
}

// parkRound is what one run at one rate measured (summed over b.N runs).
type parkRound struct {
	offered, done, shed, refusals int
	drops                         int           // datagrams dropped at the pool's sockets for want of buffer
	sippDrops                     int           // the same at the SIPps' sockets (the load generator's)
	faults                        int           // the pool process's minor page faults (fresh memory touched)
	window                        time.Duration // from 10 % to 90 % of the retrievals
	windowCycles                  int           // retrievals in that window
	cpu, wall                     time.Duration
	sippCPU                       time.Duration // the five SIPps' user+system CPU
	fresh                         *parkRound    // the warm-up round, with PARKWAY_BENCH_WARMUP=1
}

func (r *parkRound) add(o parkRound) {
	r.offered += o.offered
	r.done += o.done
	r.shed += o.shed
	r.refusals += o.refusals
	r.drops += o.drops
	r.sippDrops += o.sippDrops
	r.faults += o.faults
	r.window += o.window
	r.windowCycles += o.windowCycles
	r.cpu += o.cpu
	r.wall += o.wall
	r.sippCPU += o.sippCPU
	if o.fresh != nil {
		if r.fresh == nil {
			r.fresh = &parkRound{}
		}
		r.fresh.add(*o.fresh)
	}
}

// cyclesPerSecond is the retrievals a second in the steady window (0 without one).
func (r parkRound) cyclesPerSecond() float64 {
	if r.window <= 0 {
		return 0
	}
	return float64(r.windowCycles) / r.window.Seconds()
}

// summary is the round's numbers in one line.
func (r parkRound) summary() string {
	per := func(v int) float64 { return float64(v) / float64(max(r.done, 1)) }
	return fmt.Sprintf("%.1f cycles/s, %d done, %d failed, %d shed, pool CPU %.2f ms/cycle, %.1f faults/cycle",
		r.cyclesPerSecond(), r.done, r.offered-r.done-r.shed, r.shed, float64(r.cpu.Microseconds())/1000*per(1), float64(r.faults)*per(1))
}

func (r parkRound) report(b *testing.B) {
	b.ReportMetric(r.cyclesPerSecond(), "cycles/s")
	if f := r.fresh; f != nil {
		// The warm-up round: what a pool just started does with the same load.
		b.ReportMetric(f.cyclesPerSecond(), "fresh-cycles/s")
		b.ReportMetric(float64(f.offered-f.done-f.shed), "fresh-cycles-failed")
		if f.done > 0 {
			b.ReportMetric(float64(f.cpu.Microseconds())/float64(f.done)/1000, "fresh-pool-cpu-ms/cycle")
			b.ReportMetric(float64(f.faults)/float64(f.done), "fresh-pool-faults/cycle")
		}
	}
	b.ReportMetric(float64(r.done), "cycles-done")
	b.ReportMetric(float64(r.offered-r.done-r.shed), "cycles-failed")
	b.ReportMetric(float64(r.shed), "cycles-shed")
	b.ReportMetric(float64(r.refusals), "503s")
	b.ReportMetric(float64(r.drops), "udp-drops")
	b.ReportMetric(float64(r.sippDrops), "sipp-udp-drops")
	if r.done > 0 {
		b.ReportMetric(float64(r.cpu.Microseconds())/float64(r.done)/1000, "pool-cpu-ms/cycle")
		b.ReportMetric(float64(r.faults)/float64(r.done), "pool-faults/cycle")
	}
	b.ReportMetric(r.cpu.Seconds()/r.wall.Seconds()*100, "pool-cpu-%")
	if r.sippCPU > 0 {
		// The load generators' share of the same CPUs: what is left for the pool.
		if r.done > 0 {
			b.ReportMetric(float64(r.sippCPU.Microseconds())/float64(r.done)/1000, "sipp-cpu-ms/cycle")
		}
		b.ReportMetric(r.sippCPU.Seconds()/r.wall.Seconds()*100, "sipp-cpu-%")
	}
}

// benchMaxDelay is the pool's overload.maxDelay in the benchmark: PARKWAY_BENCH_MAXDELAY,
// default 30ms ("0" runs without admission control, to see what it prevents; "off" leaves
// the key out: the pool's default guard, or none in a pool binary older than it).
func benchMaxDelay() string {
	if v := os.Getenv("PARKWAY_BENCH_MAXDELAY"); v != "" {
		return v
	}
	return "30ms"
}

// benchTrace reports PARKWAY_BENCH_TRACE=1: SIPp logs every message, the pool captures
// its SIP (BenchmarkSIPpParkRetrieve's doc).
func benchTrace() bool { v := os.Getenv("PARKWAY_BENCH_TRACE"); return v == "1" || v == "keep" }

// benchTraceKeep: PARKWAY_BENCH_TRACE=keep keeps the traces of a round that failed no
// cycle too (to count the messages a cycle takes, say).
func benchTraceKeep() bool { return os.Getenv("PARKWAY_BENCH_TRACE") == "keep" }

// benchOutputDir is go test's -outputdir, where profiles go; "" when not set.
func benchOutputDir() string {
	if f := flag.Lookup("test.outputdir"); f != nil {
		return f.Value.String()
	}
	return ""
}

// runParkRound offers rate cycles a second for seconds against a fresh pool process.
func runParkRound(b *testing.B, bin string, rate, seconds int) parkRound {
	b.StopTimer()
	httpAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(b)))
	var args []string
	trace := benchTrace()
	capture := ""
	if dir := benchOutputDir(); dir != "" {
		args = []string{"--cpuprofile", filepath.Join(dir, fmt.Sprintf("pool-cpu-rate%d.pprof", rate)),
			"--memprofile", filepath.Join(dir, fmt.Sprintf("pool-allocs-rate%d.pprof", rate))}
		if trace {
			capture = filepath.Join(dir, fmt.Sprintf("pool-rate%d.pcap", rate))
			args = append(args, "--sip-capture", capture)
		}
	}
	// A large orbit range so every cycle parks on its own orbit (directed park).
	// The flood limit per source is raised far above the load (startPoolProcessWith):
	// every SIPp sends from 127.0.0.1, and what must cap the run is the pool's capacity,
	// which admission control (overload) guards: beyond it new calls get 503.
	settings := "authenticateCalls: false\nhttp: " + httpAddr + "\n"
	switch d := benchMaxDelay(); d {
	case "off":
	case "0":
		settings += "overload: {off: true}\n"
	default:
		settings += "overload: {maxDelay: " + d + "}\n"
	}
	pp := startPoolProcessWith(b, "100000-999999", settings, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := b.TempDir()
	alicePort, alicePhonePort, bobPort, carolPhonePort, carolPort := freePort(b), freePort(b), freePort(b), freePort(b), freePort(b)
	// alice's registered Contact is a SIPp that answers the park service's MESSAGE
	// ("Parked at …"): unanswered, each would be sent again for 32 s (RFC 3261 §17.1.2).
	for _, r := range []struct {
		user string
		port int
	}{{"alice", alicePhonePort}, {"bob", bobPort}, {"carol", carolPhonePort}} {
		inf := injection(b, dir, "reg-"+r.user, "pool-a", "127.0.0.1:"+strconv.Itoa(r.port), "3600")
		startSIPp(b, bin, "register "+r.user, "register.xml", pp.addr, freePort(b),
			"-inf", inf, "-s", r.user, "-au", r.user, "-ap", r.user+"-demo", "-m", "1").wait(b, ctx)
	}
	phones := parkPhones{alice: alicePort, alicePhone: alicePhonePort, bob: bobPort, carolPhone: carolPhonePort, carol: carolPort}
	var warm parkRound
	if w := benchWarmup(); w > 0 {
		// The same load on the same pool first, measured apart: the round after it sees a
		// pool past its start-up admission ramp (overload.go) with its heap grown, as a
		// long-running pool is (BenchmarkSIPpParkRetrieve's doc).
		warm = offerCycles(b, bin, pp, rate, w, 500000, phones, httpAddr, "")
		b.Logf("warm-up round (the fresh pool): %s", warm.summary())
	}
	round := offerCycles(b, bin, pp, rate, seconds, 100000, phones, httpAddr, capture)
	if benchWarmup() > 0 {
		round.fresh = &warm
	}
	return round
}

// parkPhones are the SIP ports of a round's SIPps; the answering phones' (alicePhone, bob,
// carolPhone) are registered with the pool.
type parkPhones struct{ alice, alicePhone, bob, carolPhone, carol int }

// benchWarmup is PARKWAY_BENCH_WARMUP: seconds of warm-up load before the measured
// round (0: none, the round measures a fresh pool).
func benchWarmup() int {
	w, _ := strconv.Atoi(os.Getenv("PARKWAY_BENCH_WARMUP"))
	return max(w, 0)
}

// offerCycles offers rate cycles a second for seconds to the running pool pp, cycle i on
// orbit orbit0+i, and measures the round.
func offerCycles(b *testing.B, bin string, pp *poolProcess, rate, seconds, orbit0 int, phones parkPhones, httpAddr, capture string) parkRound {
	n := rate * seconds
	trace := benchTrace()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := b.TempDir()
	alicePort, alicePhonePort, bobPort, carolPhonePort, carolPort := phones.alice, phones.alicePhone, phones.bob, phones.carolPhone, phones.carol
	// One injection line per cycle: cycle i parks on and retrieves orbit orbit0+i.
	poolHost, poolPort, _ := net.SplitHostPort(pp.addr)
	var lines strings.Builder
	lines.WriteString("SEQUENTIAL\n")
	for i := 0; i < n; i++ {
		orbit := strconv.Itoa(orbit0 + i)
		fmt.Fprintf(&lines, "pool-a;127.0.0.1:%d;3600;%s;%s;%s;%s;\n", carolPhonePort, orbit, poolHost, poolPort, orbit)
	}
	inf := filepath.Join(dir, "cycles.csv")
	if err := os.WriteFile(inf, []byte(lines.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	// SIPp dumps its statistics (-trace_stat) and per-message counts (-trace_counts)
	// every second and when it exits; a missing answer fails that call after 30 s.
	stats := []string{"-trace_stat", "-trace_counts", "-fd", "1", "-recv_timeout", "30000"}
	if trace {
		stats = append(stats, "-trace_msg")
	}
	limit := []string{"-l", strconv.Itoa(max(3000, rate*8))} // calls open at once in one SIPp
	retrievals := watchRetrievals(ctx, "http://"+httpAddr+"/metrics")
	start := time.Now()
	cpu0 := cpuTime(b, pp.cmd.Process.Pid)
	faults0 := minorFaults(b, pp.cmd.Process.Pid)
	drops0 := udpDrops(pp.cmd.Process.Pid)
	b.StartTimer()
	// The two answering phones run until told to stop: with load shed, fewer calls than
	// offered reach them.
	bob := startSIPpLoad(b, bin, "bob (parked)", "parked.xml", pp.addr, bobPort, append(append([]string{"-inf", inf}, stats...), limit...)...)
	carolPhone := startSIPpLoad(b, bin, "carol's phone", "answerer.xml", pp.addr, carolPhonePort, append(append([]string{"-inf", inf}, stats...), limit...)...)
	alicePhone := startSIPpLoad(b, bin, "alice's phone", "messages.xml", pp.addr, alicePhonePort, append(append([]string{"-inf", inf}, stats...), limit...)...)
	time.Sleep(200 * time.Millisecond)
	cycles := []string{"-inf", inf, "-m", strconv.Itoa(n), "-r", strconv.Itoa(rate)}
	alice := startSIPpLoad(b, bin, "alice (parker)", "parker.xml", pp.addr, alicePort, append(append(cycles, stats...), limit...)...)
	sippDrops := watchDrops(ctx, map[*sipp]int{bob: bobPort, carolPhone: carolPhonePort, alicePhone: alicePhonePort, alice: alicePort})
	// Retrieves start two seconds behind the parks, at the same rate.
	time.Sleep(2 * time.Second)
	carol := startSIPpLoad(b, bin, "carol (retriever)", "retriever.xml", pp.addr, carolPort, append(append(cycles, stats...), limit...)...)
	carolDrops := watchDrops(ctx, map[*sipp]int{carol: carolPort})
	for _, s := range []*sipp{alice, carol} {
		if over, _ := s.Wait(ctx); !over {
			b.Fatalf("sipp %s did not finish", s.Name)
		}
	}
	// Bob's and carol's phones finish the calls they have and exit (SIGUSR1); a call that
	// can no longer complete ends at its 30 s or 60 s timeout.
	for _, s := range []*sipp{bob, carolPhone, alicePhone} {
		_ = syscall.Kill(s.Pid(), syscall.SIGUSR1)
	}
	for _, s := range []*sipp{bob, carolPhone, alicePhone} {
		wctx, wcancel := context.WithTimeout(ctx, 90*time.Second)
		if over, _ := s.Wait(wctx); !over {
			s.Kill()
			b.Logf("sipp %s still had calls 90 s after the last cycle: killed", s.Name)
		}
		wcancel()
	}
	b.StopTimer()
	round := parkRound{offered: n, wall: time.Since(start), cpu: cpuTime(b, pp.cmd.Process.Pid) - cpu0,
		drops: udpDrops(pp.cmd.Process.Pid) - drops0, sippDrops: sippDrops() + carolDrops(),
		faults: minorFaults(b, pp.cmd.Process.Pid) - faults0}
	for _, s := range []*sipp{alice, bob, carol, carolPhone, alicePhone} {
		_, _ = s.Wait(ctx) // all have exited or been killed by now
		round.sippCPU += s.CPU()
	}
	samples := sinceFirst(retrievals()) // the pool's count goes on from a warm-up round
	round.window, round.windowCycles = steadyWindow(samples)
	round.done = sippStat(b, bob, "SuccessfulCall(C)")
	round.shed = sippCount(b, alice, "_503_Recv")
	for _, s := range []*sipp{alice, bob, carol, carolPhone} {
		round.refusals += sippCount(b, s, "_503_Recv")
	}
	failed := round.offered-round.done-round.shed > 0
	if out := benchOutputDir(); out != "" {
		// SIPp's logs of unexpected messages and its statistics, to see why cycles failed;
		// traced, every message too when a cycle failed.
		keep := filepath.Join(out, fmt.Sprintf("sipp-rate%d", rate))
		pats := []string{"*errors.log", "*.csv"}
		if failed || benchTraceKeep() {
			pats = append(pats, "*messages.log")
		}
		for _, s := range []*sipp{alice, bob, carol, carolPhone, alicePhone} {
			d := filepath.Join(keep, strings.Fields(s.Name)[0]+filepath.Base(s.Dir))
			_ = os.MkdirAll(d, 0o755)
			for _, pat := range pats {
				files, _ := filepath.Glob(filepath.Join(s.Dir, pat))
				for _, f := range files {
					if data, err := os.ReadFile(f); err == nil {
						_ = os.WriteFile(filepath.Join(d, filepath.Base(f)), data, 0o644)
					}
				}
			}
		}
	}
	if capture != "" {
		if failed || benchTraceKeep() {
			b.Logf("traced: the pool's SIP in %s, every SIPp message in %s/*/*messages.log", capture, filepath.Join(benchOutputDir(), fmt.Sprintf("sipp-rate%d", rate)))
		} else {
			_ = os.Remove(capture)
		}
	}
	b.Logf("machine: %s", benchMachine())
	b.Logf("rate %d/s offered for %d s: %d cycles, %d done, %d shed (503 at the first INVITE), %d 503s in all; retrieved %d at the pool; pool CPU %v over %v; datagrams dropped for a full receive buffer: %d at the pool, %d at the SIPps",
		rate, seconds, n, round.done, round.shed, round.refusals, last(samples).count, round.cpu, round.wall.Round(time.Millisecond), round.drops, round.sippDrops)
	return round
}

// startSIPpLoad runs sipp like startSIPp but without -trace_msg: under load, logging
// every message would cost SIPp more than the calls do. Its socket buffers are 4 MB
// (-buff_size; the kernel caps them at net.core.rmem_max): SIPp's own 64 KB held
// ≈ 100 datagrams, a few milliseconds of a phone's traffic at 1,000 cycles/s, and
// a datagram lost there fails the call outright — a SIPp call retransmits only its last
// message, and its answering side has no transaction to answer a retransmission from
// (issue #12: the cycles that failed at 600/s after their retrieve; sipp-udp-drops).
func startSIPpLoad(b *testing.B, bin, name, scenario, target string, port int, args ...string) *sipp {
	b.Helper()
	wd, _ := os.Getwd()
	base := []string{target, "-sf", filepath.Join(wd, "testdata", "sipp", scenario),
		"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "u1", "-nostdin",
		"-timeout", "300s", "-trace_err", "-max_recv_loops", "1000", "-buff_size", strconv.Itoa(sippBuffer())}
	return &sipp{siptest.StartSIPp(b, bin, name, b.TempDir(), append(base, args...)...)}
}

// sippBuffer is SIPp's -buff_size in the benchmark: PARKWAY_BENCH_SIPP_BUFFER bytes,
// default 4 MB (65535, SIPp's own default, shows what it costs).
func sippBuffer() int {
	if v, err := strconv.Atoi(os.Getenv("PARKWAY_BENCH_SIPP_BUFFER")); err == nil && v > 0 {
		return v
	}
	return 4 << 20
}

// watchDrops polls the receive-buffer drops at the SIP sockets of the given SIPps (each
// with its SIP port; not their media sockets, where the music on hold the park service
// sends is never read) every 250 ms until the returned function is called, which
// returns their sum: a SIPp's sockets go when it exits, so its count is the last one
// read while it ran.
func watchDrops(ctx context.Context, ss map[*sipp]int) func() int {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan int, 1)
	go func() {
		last := map[*sipp]int{}
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			for s, port := range ss {
				last[s] = max(last[s], udpDropsAt(s.Pid(), port)) // 0 once it exited: no sockets
			}
			select {
			case <-ctx.Done():
				total := 0
				for _, d := range last {
					total += d
				}
				out <- total
				return
			case <-tick.C:
			}
		}
	}()
	return func() int { cancel(); return <-out }
}

// minorFaults is process pid's minor page faults so far (/proc/pid/stat): each is a page
// of memory it touched for the first time, ≈ 16 µs of CPU on the 2-vCPU VM of
// BENCHMARKS.md (a Go heap that grows by 300 MB in a round pays ≈ 1 s for it).
func minorFaults(b *testing.B, pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("read page faults: %v", err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	n, _ := strconv.Atoi(f[7]) // minflt, field 10 of stat
	return n
}

// udpDrops is the datagrams the kernel dropped for a full receive buffer on the UDP
// sockets of process pid (its SIP sockets and its RTP ports): the "drops" column of
// /proc/net/udp for the sockets among pid's file descriptors.
func udpDrops(pid int) int { return udpDropsAt(pid, 0) }

// udpDropsAt is udpDrops for pid's sockets bound to local port port (0: all of them).
func udpDropsAt(pid, port int) int {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if ino, ok := strings.CutPrefix(link, "socket:["); ok && err == nil {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	total := 0
	for _, table := range []string{"udp", "udp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
			f := strings.Fields(line)
			if len(f) >= 13 && inodes[f[9]] && (port == 0 || strings.HasSuffix(f[1], fmt.Sprintf(":%04X", port))) {
				v, _ := strconv.Atoi(f[12])
				total += v
			}
		}
	}
	return total
}

// retrievalSample is the pool's count of retrieved calls at a time.
type retrievalSample struct {
	at    time.Time
	count int
}

func last(s []retrievalSample) retrievalSample {
	if len(s) == 0 {
		return retrievalSample{}
	}
	return s[len(s)-1]
}

// watchRetrievals polls the pool's /metrics every 250 ms for the retrieved-calls counter
// until the returned function is called, which returns the samples.
func watchRetrievals(ctx context.Context, url string) func() []retrievalSample {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan []retrievalSample, 1)
	go func() {
		var samples []retrievalSample
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		client := &http.Client{Timeout: 2 * time.Second}
		for {
			if c, ok := retrievedCount(ctx, client, url); ok {
				samples = append(samples, retrievalSample{time.Now(), c})
			}
			select {
			case <-ctx.Done():
				out <- samples
				return
			case <-tick.C:
			}
		}
	}()
	return func() []retrievalSample { cancel(); return <-out }
}

func retrievedCount(ctx context.Context, client *http.Client, url string) (int, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, false
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, false
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "parkway_park_events_total{") && strings.Contains(line, `event="retrieved"`) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			return int(v), err == nil
		}
	}
	return 0, false
}

// sinceFirst is s counted from its first sample: the retrievals of this round only.
func sinceFirst(s []retrievalSample) []retrievalSample {
	if len(s) == 0 {
		return s
	}
	out := make([]retrievalSample, len(s))
	for i, x := range s {
		out[i] = retrievalSample{x.at, x.count - s[0].count}
	}
	return out
}

// steadyWindow is the time between the samples that first reached 10 % and 90 % of the
// final count, and the retrievals between them: the rate without the ramps.
func steadyWindow(s []retrievalSample) (time.Duration, int) {
	final := last(s).count
	if final < 10 {
		return 0, 0
	}
	var lo, hi *retrievalSample
	for i := range s {
		if lo == nil && s[i].count >= final/10 {
			lo = &s[i]
		}
		if hi == nil && s[i].count >= final*9/10 {
			hi = &s[i]
		}
	}
	if lo == nil || hi == nil || !hi.at.After(lo.at) {
		return 0, 0
	}
	return hi.at.Sub(lo.at), hi.count - lo.count
}

// sippStat reads column of the last line of s's -trace_stat file.
func sippStat(b *testing.B, s *sipp, column string) int {
	return sippColumn(b, s, "_.csv", column, false)
}

// sippCount sums, on the last line of s's -trace_counts file, the columns whose names end
// in suffix (one per scenario element, e.g. 3_503_Recv).
func sippCount(b *testing.B, s *sipp, suffix string) int {
	return sippColumn(b, s, "_counts.csv", suffix, true)
}

func sippColumn(b *testing.B, s *sipp, fileSuffix, column string, bySuffix bool) int {
	files, _ := filepath.Glob(filepath.Join(s.Dir, "*"+fileSuffix))
	if len(files) != 1 {
		b.Fatalf("sipp %s: want one *%s file in %s, have %v", s.Name, fileSuffix, s.Dir, files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		b.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) < 2 {
		b.Fatalf("sipp %s: %s has no statistics", s.Name, files[0])
	}
	head, vals := strings.Split(lines[0], ";"), strings.Split(lines[len(lines)-1], ";")
	sum, found := 0, false
	for i, h := range head {
		if (h == column || bySuffix && strings.HasSuffix(h, column)) && i < len(vals) {
			v, err := strconv.Atoi(vals[i])
			if err != nil {
				b.Fatalf("sipp %s: %s column %s: %q", s.Name, files[0], h, vals[i])
			}
			sum, found = sum+v, true
		}
	}
	if !found && !bySuffix {
		b.Fatalf("sipp %s: no column %s in %s", s.Name, column, files[0])
	}
	return sum
}

// benchMachine is the line saying what the numbers were measured on, with the load.
func benchMachine() string {
	uname, _ := exec.Command("uname", "-srvmo").Output()
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if m, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(m), ":"))
				break
			}
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("%s; nproc %d; CPU %q; %s; load average %s", strings.TrimSpace(string(uname)), runtime.NumCPU(), model,
		runtime.Version(), strings.Join(strings.Fields(string(load))[:3], " "))
}
