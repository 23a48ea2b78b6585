package parkanchor

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/internal/freeport"
	"github.com/parkway/parkway/siptest"
)

// BenchmarkAsteriskParkRetrieve is the anchor for pool's BenchmarkSIPpParkRetrieve: b.N
// park + retrieve cycles through one Asterisk process at PARKWAY_BENCH_RATE cycles/s
// offered (default 50), parks by REFER into a chosen slot, retrieves by dialing the slot
// two seconds later at the same rate. It reports, never asserts:
//
//	cycles/s      cycles whose three SIPp calls (alice, bob, carol) all succeeded, per second
//	failed-cycles cycles that failed otherwise than by a 503
//	503s          503 responses (Asterisk refusing a call)
//	cpu-ms/cycle  Asterisk's user+system CPU (from /proc) per offered cycle
//	cpu-%         that CPU over the run's wall time
//
// With PARKWAY_BENCH_WARMUP=N, N seconds of the same rate go through the same Asterisk
// first, and that round's numbers are reported apart (fresh-cycles/s, fresh-failed-cycles,
// fresh-cpu-ms/cycle), as the pool's benchmark does with the same variable.
//
// PARKWAY_ASTERISK is the asterisk binary from scripts/anchors/build-asterisk.sh; the CPU
// budget is whatever `taskset` the benchmark runs under (Asterisk inherits it), the same
// as the pool's in `go tool task bench-anchors`.
//
//	PARKWAY_ASTERISK=$HOME/.cache/parkway/asterisk-22/sbin/asterisk PARKWAY_BENCH_RATE=100 \
//	  ./scripts/loopback-only.sh go test -run '^$' -bench AsteriskParkRetrieve -benchtime 500x ./internal/parkanchor/
func BenchmarkAsteriskParkRetrieve(b *testing.B) {
	bin := os.Getenv("PARKWAY_ASTERISK")
	if bin == "" {
		b.Skip("PARKWAY_ASTERISK unset: the Asterisk anchor runs from `go tool task bench-anchors`, which builds Asterisk (scripts/anchors/build-asterisk.sh)")
	}
	sippBin := siptest.SIPpPath(b)
	rate := 50
	if v, err := strconv.Atoi(os.Getenv("PARKWAY_BENCH_RATE")); err == nil && v > 0 {
		rate = v
	}
	ast := startAsterisk(b, bin)
	if w, _ := strconv.Atoi(os.Getenv("PARKWAY_BENCH_WARMUP")); w > 0 {
		// As the pool's benchmark does with the same variable: w seconds of the same rate
		// through the same Asterisk first, its numbers apart (fresh-…), the round
		// measured after it.
		warm := ast.offer(b, sippBin, rate, rate*w, b.N)
		b.Logf("warm-up round (Asterisk just started): %.1f cycles/s, %d failed, %d 503s, %.2f ms CPU/cycle",
			warm.cyclesPerSecond, warm.failed, warm.refused, warm.cpuPerCycle)
		defer func() {
			b.ReportMetric(warm.cyclesPerSecond, "fresh-cycles/s")
			b.ReportMetric(float64(warm.failed), "fresh-failed-cycles")
			b.ReportMetric(warm.cpuPerCycle, "fresh-cpu-ms/cycle")
		}()
	}
	b.ResetTimer()
	r := ast.offer(b, sippBin, rate, b.N, 0)
	b.StopTimer()
	b.ReportMetric(r.cyclesPerSecond, "cycles/s")
	b.ReportMetric(float64(r.failed), "failed-cycles")
	b.ReportMetric(float64(r.refused), "503s")
	b.ReportMetric(r.cpuPerCycle, "cpu-ms/cycle")
	b.ReportMetric(r.cpuPercent, "cpu-%")
}

// anchorRound is what one round of cycles through Asterisk measured.
type anchorRound struct {
	cyclesPerSecond, cpuPerCycle, cpuPercent float64
	failed, refused                          int
}

// offer runs n park + retrieve cycles at rate a second through a, cycle i on slot
// first+i.
func (ast *asterisk) offer(b *testing.B, sippBin string, rate, n, first int) anchorRound {
	inf := filepath.Join(b.TempDir(), "cycles.csv")
	var lines strings.Builder
	lines.WriteString("SEQUENTIAL\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&lines, "127.0.0.1;%d;\n", ast.cfg.Slot(first+i))
	}
	if err := os.WriteFile(inf, []byte(lines.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	// Enough for every cycle at the offered rate, the retrieve lag, a second of talk and
	// SIPp's retransmissions; a run that has not finished by then has failed calls.
	limit := time.Duration(n)*time.Second/time.Duration(rate) + 45*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), limit+15*time.Second)
	defer cancel()
	wd, _ := os.Getwd()
	target := net.JoinHostPort("127.0.0.1", strconv.Itoa(ast.cfg.SIPPort))
	run := func(name, scenario string, port int, args ...string) *sippRun {
		dir := b.TempDir()
		base := []string{"-sf", scenario, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "u1",
			"-nostdin", "-m", strconv.Itoa(n), "-timeout", fmt.Sprintf("%ds", int(limit.Seconds())),
			"-trace_stat", "-stf", filepath.Join(dir, "stat.csv"), "-fd", "1", "-trace_counts",
			"-trace_err", "-max_recv_loops", "1000", "-buff_size", strconv.Itoa(sippBuffer())}
		// PARKANCHOR_SIPP_KEEP=dir keeps every SIPp run's logs, with its messages, there.
		if keep := os.Getenv("PARKANCHOR_SIPP_KEEP"); keep != "" {
			base = append(base, "-trace_msg")
			b.Cleanup(func() { exec.Command("cp", "-r", dir, filepath.Join(keep, strings.Fields(name)[0])).Run() })
		}
		return &sippRun{siptest.StartSIPp(b, sippBin, name, dir, append(base, args...)...)}
	}
	cpu0 := cpuTime(b, ast.cmd.Process.Pid)
	start := time.Now()
	// bob is a plain answering phone: pool's answerer.xml as it is.
	bob := run("bob (parked)", filepath.Join(wd, "..", "..", "pool", "testdata", "sipp", "answerer.xml"), ast.cfg.BobPort)
	time.Sleep(200 * time.Millisecond)
	alice := run("alice (parker)", filepath.Join(wd, "testdata", "sipp", "parker.xml"), freePort(b),
		target, "-inf", inf, "-r", strconv.Itoa(rate), "-aa")
	time.Sleep(2 * time.Second)
	carol := run("carol (retriever)", filepath.Join(wd, "testdata", "sipp", "retriever.xml"), freePort(b),
		target, "-inf", inf, "-r", strconv.Itoa(rate))
	alice.wait(b, ctx)
	carol.wait(b, ctx)
	// bob's run ends when he has had n calls; with failed parks he never gets them all.
	bobCtx, bobCancel := context.WithTimeout(ctx, 5*time.Second)
	bob.wait(b, bobCtx)
	bobCancel()
	elapsed := time.Since(start) - 2*time.Second
	cpu := cpuTime(b, ast.cmd.Process.Pid) - cpu0

	a, c, o := alice.counts(b, true), carol.counts(b, true), bob.counts(b, false)
	ok := min(a.Successful, c.Successful, o.Successful)
	refused := a.Refused + c.Refused
	failed := max(n-ok-refused, 0)
	if failed > 0 {
		b.Logf("alice %+v, carol %+v, bob %+v; asterisk said:\n%s", a, c, o, ast.tail())
	}
	return anchorRound{
		cyclesPerSecond: float64(ok) / elapsed.Seconds(),
		failed:          failed,
		refused:         refused,
		cpuPerCycle:     float64(cpu.Microseconds()) / float64(n) / 1000,
		cpuPercent:      cpu.Seconds() / elapsed.Seconds() * 100,
	}
}

// sippRun is one SIPp role of a cycle.
type sippRun struct{ *siptest.SIPpRun }

// wait waits for SIPp to exit; a run that failed calls exits non-zero, which is a number
// here (counts), not an error. A run still going when ctx ends is killed.
func (s *sippRun) wait(b *testing.B, ctx context.Context) {
	if over, _ := s.Wait(ctx); !over {
		b.Logf("sipp %s still running at the deadline: killed", s.Name)
		s.Kill()
		s.Wait(context.Background())
	}
}

// counts reads how the run's calls ended (the 503s only for the roles that can get one).
func (s *sippRun) counts(b *testing.B, refusals bool) SIPpCounts {
	countsFile := ""
	if refusals {
		found, _ := filepath.Glob(filepath.Join(s.Dir, "*_counts.csv"))
		if len(found) == 0 {
			b.Fatalf("sipp %s wrote no counts file:\n%s", s.Name, s.Output())
		}
		countsFile = found[0]
	}
	c, err := ReadSIPpCounts(filepath.Join(s.Dir, "stat.csv"), countsFile)
	if err != nil {
		b.Fatalf("sipp %s: %v\n%s", s.Name, err, s.Output())
	}
	return c
}

// asterisk is one Asterisk process on loopback.
type asterisk struct {
	cfg AsteriskConfig
	cmd *exec.Cmd
	out *bytes.Buffer
}

func (a *asterisk) tail() string {
	s := a.out.String()
	return s[max(0, len(s)-4000):]
}

// startAsterisk writes a configuration and starts bin in the foreground, ready once it
// says it is fully booted (every module loaded, the SIP transport bound).
func startAsterisk(b *testing.B, bin string) *asterisk {
	b.Helper()
	cfg := AsteriskConfig{
		Dir:        b.TempDir(),
		ModulesDir: filepath.Join(filepath.Dir(filepath.Dir(bin)), "lib", "asterisk", "modules"),
		SIPPort:    freePort(b),
		BobPort:    freePort(b),
		FirstSlot:  10000,
		Slots:      10000,
		RTPStart:   10000,
		RTPEnd:     30000,
	}
	if err := WriteAsteriskConfig(cfg); err != nil {
		b.Fatal(err)
	}
	a := &asterisk{cfg: cfg, out: &bytes.Buffer{}}
	a.cmd = exec.Command(bin, "-f", "-n", "-C", cfg.ConfigFile())
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	if err := a.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { a.cmd.Wait(); close(done) }()
	b.Cleanup(func() {
		a.cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			a.cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := exec.CommandContext(ctx, bin, "-C", cfg.ConfigFile(), "-rx", "core waitfullybooted").Run()
		cancel()
		if err == nil {
			// A module that declined to load (a bad option) leaves Asterisk running without it.
			for _, m := range []string{"chan_pjsip", "res_pjsip_refer", "res_parking", "res_musiconhold", "pbx_config"} {
				show, _ := exec.Command(bin, "-C", cfg.ConfigFile(), "-rx", "module show like "+m).CombinedOutput()
				if !bytes.Contains(show, []byte("1 modules loaded")) {
					b.Fatalf("asterisk has not loaded %s (%s):\n%s", m, bytes.TrimSpace(show), a.tail())
				}
			}
			return a
		}
		select {
		case <-done:
			b.Fatalf("asterisk exited while starting:\n%s", a.tail())
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("asterisk not fully booted after 60 s (%v):\n%s", err, a.tail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cpuTime is the user+system CPU the process pid has used.
func cpuTime(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("read cpu time: %v", err)
	}
	// The fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clkTck
}

// freePort is a loopback port free for UDP and TCP a moment ago, outside the kernel's
// ephemeral range so no port-0 socket takes it before SIPp or Asterisk binds it, and
// never the same twice in this process.
func freePort(b *testing.B) int {
	port, err := portPicker.Pick()
	if err != nil {
		b.Fatal(err)
	}
	return port
}

// portPicker hands out the ports of this package's tests: outside the ephemeral range,
// never the same one twice.
var portPicker freeport.Picker

// sippBuffer is SIPp's socket buffer size (-buff_size), the same as the pool's benchmark
// gives its SIPps (pool/sipp_park_bench_test.go): PARKWAY_BENCH_SIPP_BUFFER bytes, default
// 4 MB — both sides of the comparison lose no datagram at SIPp that the other would not.
func sippBuffer() int {
	if v, err := strconv.Atoi(os.Getenv("PARKWAY_BENCH_SIPP_BUFFER")); err == nil && v > 0 {
		return v
	}
	return 4 << 20
}
