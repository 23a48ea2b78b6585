package benchreport

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// The steps of a load line, whatever the spec adds before a sign-in's "→".
func TestLoadStepsAreMediansOfEachStep(t *testing.T) {
	got := loadSteps("page load → x (warm: y): median 394 ms (runs 399 [compiled 274, wasm running 300, sign-in 175 (answered 265)/343→380, early ws open NaN, welcome 367], " +
		"393 [compiled 268, wasm running 299, sign-in NaN/NaN→351, welcome 362], 412 [compiled 299, wasm running 325, sign-in 83/315→343, welcome 385])")
	want := map[string]float64{"compiled": 274, "wasm-running": 300, "sign-in": 351, "welcome": 367}
	if len(got) != len(want) {
		t.Errorf("steps %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %v, want %v", k, got[k], v)
		}
	}
}

func TestVerdictChecksTheGoalsFirstComparison(t *testing.T) {
	r := NewResults()
	r.set("B", "rate", 328)
	r.set("B", "cpu", 5)
	r.set("A", "cpu", 15)
	r.set("B", "loss", 0)
	for _, c := range []struct {
		goal, metric string
		anchor       bool
		want         string
	}{
		{"≥ 1,000; ahead of Asterisk", "rate", false, "missed"},
		{"≥ 300", "rate", false, "met"},
		{"≤ 0.5× plain forwarder", "cpu", true, "met"}, // 5 ÷ 15
		{"≤ 0.2×", "cpu", true, "missed"},
		{"≤ 0.5×", "cpu", false, ""}, // a ratio without an anchor is not checked
		{"< 0.1 %", "loss", false, "met"},
		{"≤ 0: overload → 503, never a failed call", "loss", false, "met"},
		{"—", "rate", false, ""},
		{"", "rate", false, ""},
		{"≤ 90 ms", "absent", false, ""}, // a number not measured is not a miss
	} {
		row := Row{Paths[0], "q", Ref{"B", c.metric}, "", Ref{}, c.goal}
		if c.anchor {
			row.AnchorName, row.Anchor = "anchor", Ref{"A", c.metric}
		}
		if got := Verdict(r, row); got != c.want {
			t.Errorf("goal %q on %s: %q, want %q", c.goal, c.metric, got, c.want)
		}
	}
}

// writeCPUProfile writes a CPU profile whose samples have the given stacks (the running
// function first) and CPU times, as pprof.StartCPUProfile would.
func writeCPUProfile(t *testing.T, path string, stacks map[string]int64) {
	t.Helper()
	p := &profile.Profile{
		SampleType:    []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:        10_000_000,
		DurationNanos: 2e9,
	}
	funcs := map[string]*profile.Function{}
	for stack, ns := range stacks {
		var locs []*profile.Location
		for _, name := range strings.Split(stack, ";") {
			fn := funcs[name]
			if fn == nil {
				fn = &profile.Function{ID: uint64(len(funcs) + 1), Name: name}
				funcs[name] = fn
				p.Function = append(p.Function, fn)
			}
			loc := &profile.Location{ID: uint64(len(p.Location) + 1), Line: []profile.Line{{Function: fn}}}
			p.Location = append(p.Location, loc)
			locs = append(locs, loc)
		}
		p.Sample = append(p.Sample, &profile.Sample{Location: locs, Value: []int64{ns / 10_000_000, ns}})
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := p.Write(f); err != nil {
		t.Fatal(err)
	}
}

// A sample is the first bucket's that claims a frame from the running function up: a
// parser's allocation is allocation, a proxy's send is the kernel's, the rest goes to the
// layer it ran in.
func TestCPUBreakdownSortsSamplesFromTheRunningFunctionUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	writeCPUProfile(t, path, map[string]int64{
		"runtime.memclrNoHeapPointers;runtime.mallocgc;github.com/emiago/sipgo/sip.(*Parser).ParseSIP;runtime.goexit": 300e6,
		"internal/runtime/syscall/linux.Syscall6;syscall.sendto;github.com/parkway/parkway/pool.(*node).proxy":        500e6,
		"github.com/parkway/parkway/pool.(*node).proxy;runtime.goexit":                                                100e6,
		"github.com/parkway/parkway/park.(*player).loop":                                                              50e6,
		"crypto/sha256.block;main.main":                                                                               50e6,
	})
	shares, total, span, err := CPUBreakdown(path, PoolBuckets)
	if err != nil {
		t.Fatal(err)
	}
	if total != 1.0 || span != 2.0 {
		t.Errorf("total %v s over %v s, want 1 over 2", total, span)
	}
	got := map[string]float64{}
	for _, s := range shares {
		if s.Seconds != 0 {
			got[s.Name] = s.Seconds
		}
	}
	want := map[string]float64{
		"memory allocation": 0.3,
		"kernel: datagrams sent and read, polling (syscalls)": 0.5,
		"pool: proxy, registrar, admission gate":              0.1,
		"music on hold (park service)":                        0.05,
		"other":                                               0.05,
	}
	if len(got) != len(want) {
		t.Errorf("buckets %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %v s, want %v", k, got[k], v)
		}
	}
	if _, _, _, err := CPUBreakdown(filepath.Join(t.TempDir(), "absent.pprof"), PoolBuckets); err == nil {
		t.Error("a missing profile was not an error")
	}
}

// A run that misses the park goal says what a cycle costs against the CPUs the machine
// has, and where the pool's CPU went, from that run's own numbers and profile.
func TestRenderExplainsAMissedGoalFromTheRunsOwnNumbers(t *testing.T) {
	dir := t.TempDir()
	writeCPUProfile(t, filepath.Join(dir, "pool-cpu-rate300.pprof"), map[string]int64{
		"internal/runtime/syscall/linux.Syscall6;github.com/parkway/parkway/pool.(*node).proxy": 250e6,
		"github.com/parkway/parkway/pool.(*node).proxy":                                         750e6,
	})
	r := NewResults()
	for _, c := range []struct {
		rate                              string
		cycles, pool, sipp, sippPct, shed float64
	}{
		{"rate=100", 100, 6, 3, 30, 0},
		{"rate=300", 300, 4, 2, 60, 0},
		{"rate=1000", 330, 5, 1.5, 80, 3000},
	} {
		b := "BenchmarkSIPpParkRetrieve/" + c.rate
		r.set(b, "cycles/s", c.cycles)
		r.set(b, "pool-cpu-ms/cycle", c.pool)
		r.set(b, "sipp-cpu-ms/cycle", c.sipp)
		r.set(b, "sipp-cpu-%", c.sippPct)
		r.set(b, "cycles-shed", c.shed)
		r.set(b, "cycles-failed", 0)
	}
	r.set(loadBench, "warm-ready-ms", 394)
	r.set(loadBench, "warm-compiled-ms", 274)
	r.set(loadBench, "warm-welcome-ms", 367)
	r.Text["warm-cpu-by-task"] = "compile 60, Go 31"
	md := Render("nproc: 2\n", r, Rows, dir)
	for _, want := range []string{
		"| 1000/s offered: cycles/s achieved | 330 | Asterisk 22 res_parking | not measured (no output of BenchmarkAsteriskParkRetrieve/rate=1000) | — | ≥ 1,000; ahead of Asterisk | **missed** |",
		"| 300/s offered: failed cycles | 0 | Asterisk 22 res_parking |",
		"## Goals missed in this run, and why",
		"- table 1, 1000/s offered: cycles/s achieved: **330** (goal ≥ 1,000; ahead of Asterisk)",
		"- table 4, navigation → ready, warm, median (ms): **394** (goal ≤ 300 ms)",
		"cost the pool **4.00 ms** of CPU at its cheapest (300/s offered",
		"1,000 cycles a second take **4.00 CPUs for the pool alone**; this machine has **2**",
		"The five SIPp processes that drive it, on the same CPUs, took **1.50 ms** a cycle at their cheapest\n(1000/s offered): **1.50 CPUs** at 1,000 cycles a second, so pool and load generator together\nneed **5.5 CPUs**, and in the 0.50 CPUs the SIPps would leave the pool would have to be **8.0× cheaper per\ncycle**.",
		"| 1000/s | 5.00 | 1.50 | 80 % |",
		"Where the pool's CPU went at 300/s (`pool-cpu-rate300.pprof`, 1.00 s of CPU over 2.0 s",
		"| kernel: datagrams sent and read, polling (syscalls) | 25.0 % | 1.00 |",
		"| pool: proxy, registrar, admission gate | 75.0 % | 3.00 |",
		"- warm load, median 394 ms to ready; the steps' medians, ms from navigation: main.wasm compiled at 274, the gateway's welcome at 367.",
		"Main-thread CPU to ready by what it ran (traced loads, medians in ms): compile 60, Go 31.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("BENCHMARKS.md lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(md[strings.Index(md, "## Goals missed"):])
	}
}

// A gateway's profile: SRTP under a bridge is encryption, ICE's consent checks are ICE,
// a bridge's write is the kernel's, and the table goes under the gateway's missed goal.
func TestGatewayProfileSortedByLayer(t *testing.T) {
	dir := t.TempDir()
	writeCPUProfile(t, filepath.Join(dir, "gateway-cpu-webload.pprof"), map[string]int64{
		"crypto/aes.encryptBlock;github.com/pion/srtp/v3.(*Context).EncryptRTP;github.com/parkway/parkway/media.(*Bridge).toBrowser": 200e6,
		"github.com/pion/ice/v4.(*Agent).checkKeepalive;runtime.goexit":                                                              100e6,
		"internal/runtime/syscall/linux.Syscall6;syscall.sendto;github.com/parkway/parkway/media.(*Bridge).toSIP":                    600e6,
		"github.com/parkway/parkway/gateway/edge.(*session).read":                                                                    100e6,
	})
	shares, _, _, err := CPUBreakdown(filepath.Join(dir, "gateway-cpu-webload.pprof"), GatewayBuckets)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, s := range shares {
		got[s.Name] = s.Seconds
	}
	for name, want := range map[string]float64{
		"SRTP and DTLS: encryption (pion srtp/dtls, crypto)":            0.2,
		"ICE and STUN: consent checks, candidate pairs (pion ice/stun)": 0.1,
		"kernel: datagrams sent and read, polling (syscalls)":           0.6,
		"gateway: sessions, phone, user agents":                         0.1,
	} {
		if got[name] != want {
			t.Errorf("%s: %v s, want %v", name, got[name], want)
		}
	}
	f, err := os.Open("testdata/rest.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewResults()
	if err := r.Parse(f, ""); err != nil {
		t.Fatal(err)
	}
	why := explainGatewayLoad(r, "nproc: 2\nload average at start: 4.10 3.00 2.00\nload average at end: 6.50 3.50 2.10\n", dir)
	for _, want := range []string{
		"At 500 calls the gateway process used 0.90 of the machine's 2 CPUs",
		"At the goal's 1,000 calls, at the same CPU a call, the load generator alone would take\n**1.70 CPUs** and the gateway **1.80**: 3.5 of this machine's 2.",
		"the machine's load average (1, 5, 15 min): 4.10 3.00 2.00 at the start, 6.50 3.50 2.10 at the end",
		"Where the gateway's CPU went (`gateway-cpu-webload.pprof`, 1.00 s of CPU over 2.0 s",
		"| kernel: datagrams sent and read, polling (syscalls) | 60.0 % |",
		"| SRTP and DTLS: encryption (pion srtp/dtls, crypto) | 20.0 % |",
	} {
		if !strings.Contains(why, want) {
			t.Errorf("the explanation lacks %q:\n%s", want, why)
		}
	}
}
