package benchreport

import (
	"os"
	"strings"
	"testing"
)

func parseSamples(t *testing.T) *Results {
	t.Helper()
	r := NewResults()
	for file, sub := range map[string]string{"testdata/park-100.txt": "rate=100", "testdata/park-300.txt": "rate=300", "testdata/rest.txt": ""} {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Parse(f, sub); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		f.Close()
	}
	return r
}

func TestParseReadsMetricsOfEveryKindOfLine(t *testing.T) {
	r := parseSamples(t)
	for _, c := range []struct {
		ref  Ref
		want float64
	}{
		{Ref{"BenchmarkSIPpParkRetrieve/rate=100", "cycles/s"}, 80.12},
		{Ref{"BenchmarkSIPpParkRetrieve/rate=100", "pool-cpu-ms/cycle"}, 8.4},
		{Ref{"BenchmarkAsteriskParkRetrieve/rate=100", "cpu-ms/cycle"}, 16.5},
		{Ref{"BenchmarkAsteriskParkRetrieve/rate=300", "failed-cycles"}, 700},
		{Ref{"BenchmarkRelayProcesses/target=plain/calls=100", "cpu-µs/packet"}, 30},
		{Ref{"BenchmarkRelayProcesses/target=plain/calls=100/median", "cpu-µs/packet"}, 24},
		{Ref{"BenchmarkRelayProcesses/target=relay/calls=100/median", "p99-µs"}, 350},
		{Ref{"BenchmarkRelayProcesses/target=relay/summary", "max-calls"}, 100},
		{Ref{"BenchmarkFanout/clients=10000", "p99-ms"}, 549},
		{Ref{"BenchmarkGatewayProcesses/calls=100", "gateway-cpu-%core"}, 40.5},
		{Ref{"BenchmarkGatewayProcesses/summary", "max-calls"}, 300},
		{Ref{"BenchmarkFanout/clients=10000", "arrived-p99-ms"}, 88},
		{Ref{"PlaywrightLoad", "cold-ready-ms"}, 1712},
		{Ref{"PlaywrightLoad", "warm-ready-ms"}, 812},
		{Ref{"PlaywrightLoad", "cold-main-thread-cpu-ms"}, 455},
		{Ref{"PlaywrightLoad", "cold-renderer-cpu-ms"}, 990},
		{Ref{"PlaywrightLoad", "warm-main-thread-cpu-ms"}, 120},
		{Ref{"PlaywrightLoad", "warm-renderer-cpu-ms"}, 310},
		{Ref{"PlaywrightLoad", "served-bytes"}, 1430000},
		{Ref{"PlaywrightLoad", "raw-bytes"}, 7060000},
		{Ref{"PlaywrightLoad", "cold-wasm-running-ms"}, 900},
		{Ref{"PlaywrightLoad", "cold-sign-in-ms"}, 1100}, // "sign-in 1000→1100": when the program had the answer
		{Ref{"PlaywrightLoad", "cold-welcome-ms"}, 1300},
	} {
		got, why := r.Lookup(c.ref)
		if why != "" || got != c.want {
			t.Errorf("%v = %v (%q), want %v", c.ref, got, why, c.want)
		}
	}
}

func TestLookupSaysWhyANumberIsMissing(t *testing.T) {
	r := parseSamples(t)
	for _, c := range []struct {
		ref  Ref
		want string
	}{
		{Ref{"BenchmarkSIPpParkRetrieve/rate=300", "cycles/s"}, "failed: sipp alice (parker) failed: exit status 1"},
		{Ref{"BenchmarkOutagePushed", "ms-kill-to-outage"}, "skipped: sipp not found: install Debian's sip-tester"},
		{Ref{"BenchmarkRelayProcesses/target=rtpengine/calls=100/median", "cpu-µs/packet"}, "rtpengine-daemon not installed (apt-get failed)"},
		{Ref{"BenchmarkSIPpParkRetrieve/rate=100", "503s"}, "no 503s in BenchmarkSIPpParkRetrieve/rate=100"},
		{Ref{"BenchmarkSIPpParkRetrieve/rate=600", "cycles/s"}, "no output of BenchmarkSIPpParkRetrieve/rate=600"},
	} {
		if _, why := r.Lookup(c.ref); why != c.want {
			t.Errorf("%v: %q, want %q", c.ref, why, c.want)
		}
	}
}

func TestParseRejectsAMangledBenchmarkLine(t *testing.T) {
	err := NewResults().Parse(strings.NewReader("BenchmarkX-2   10   100 ns/op   7.5\n"), "")
	if err == nil || !strings.Contains(err.Error(), "value-unit pairs") {
		t.Fatalf("got %v, want an error about value-unit pairs", err)
	}
}

func TestRenderPutsRatiosAndReasonsInEachPathsTable(t *testing.T) {
	md := Render("Linux test 6.1 x86_64\nnproc 2\nload average at start: 4.83 3.45 1.86\n", parseSamples(t), Rows, "")
	for _, want := range []string{
		"load average at start: 4.83 3.45 1.86",
		"## 1. Park + retrieve",
		"| 100/s offered: cycles/s achieved | 80.1 | Asterisk 22 res_parking | 75 | 1.07× |",
		"| 100/s offered: CPU ms/cycle | 8.40 | Asterisk 22 res_parking | 16.5 | 0.51× |",
		"| 300/s offered: cycles/s achieved | not measured (failed: sipp alice (parker) failed: exit status 1) | Asterisk 22 res_parking | 60 | — |",
		"| CPU per packet at 100 calls (µs) | 9.60 | plain Go UDP forwarder | 24 | 0.40× |",
		"| CPU per packet at 100 calls (µs), a socket per call (media.Relay) | 22.8 | plain Go UDP forwarder | 24 | 0.95× |",
		"| CPU per packet at 100 calls (µs) | 9.60 | rtpengine (userspace) | not measured (rtpengine-daemon not installed (apt-get failed)) |",
		"| p99, 10,000 clients, arrived: state in the last client's socket (ms) | 88 | — | — | — | ≤ 90 ms |",
		"| p99, 10,000 clients, read: the last client has read it (ms) | 549 | — | — | — | — |",
		"| gateway CPU per phase change, 10,000 clients (ms) | 120 | — | — | — | — |",
		"| the gateway process's CPU at 100 calls through it (% of one core) | 40.5 | — | — | — | — |",
		"| the gateway process's memory per call at 100 calls (KiB RSS, a signed-in user with one call) | 310 |",
		"| most concurrent calls through the gateway at < 0.1 % lost, < 1 % late (WebRTC ⇄ SIP/RTP; gateway, pools, SIPp and load generator each a process) | 300 | — | — | — | ≥ 1,000 | **missed** |",
		"At 500 calls the gateway process used 0.90 of the machine's 2 CPUs, the load generator 0.85\n",
		"| 500 | 2.000 | 0.500 | 0.90 | 0.85 | 0.02 | 0.10 | 1.87 | 1.80 |",
		"| the gateway's CPU growth over the steps measured: CPU per packet relayed at the last ÷ at the first (1 = linear) | 1.10 |",
		"kernel's receive timestamp (SO_TIMESTAMPNS",
		"| navigation → ready, cold, median (ms) | 1712 |",
		"| kill → outage on the websocket, median of 20 (ms) | not measured (skipped: sipp not found: install Debian's sip-tester) |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("BENCHMARKS.md lacks %q:\n%s", want, md)
		}
	}
	// Every path has its table, in order.
	last := -1
	for _, p := range Paths {
		i := strings.Index(md, "## "+p)
		if i <= last {
			t.Errorf("path %q missing or out of order", p)
		}
		last = i
	}
}

func TestEveryRowIsInATable(t *testing.T) {
	known := map[string]bool{}
	for _, p := range Paths {
		known[p] = true
	}
	for _, row := range Rows {
		if !known[row.Path] || row.Parkway.Bench == "" || row.Parkway.Metric == "" {
			t.Errorf("row %+v: unknown path or no Parkway number", row)
		}
		if (row.AnchorName == "") != (row.Anchor.Bench == "") {
			t.Errorf("row %+v: an anchor needs both a name and a benchmark", row)
		}
	}
}

// go test -v prints a benchmark's logs between its bare name and its verdict: the reason
// is the log line that says what went wrong, not the first or the last.
func TestParseVerboseOutputKeepsTheLineThatSaysWhatWentWrong(t *testing.T) {
	f, err := os.Open("testdata/verbose.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewResults()
	if err := r.Parse(f, "rate=100"); err != nil {
		t.Fatal(err)
	}
	if _, why := r.Lookup(Ref{"BenchmarkSIPpParkRetrieve/rate=100", "cycles/s"}); why != "failed: sipp alice (parker) failed: exit status 255" {
		t.Errorf("reason %q", why)
	}
	if v, why := r.Lookup(Ref{"BenchmarkFanout/clients=10000/rate=100", "p99-ms"}); why != "" || v != 549 {
		t.Errorf("fan-out p99 %v (%q), want 549", v, why)
	}
}
