package benchreport

import "fmt"

// Ref names one number: a benchmark (its name without the -GOMAXPROCS suffix, with its
// sub-benchmark path) and one of its units.
type Ref struct {
	Bench  string
	Metric string
}

// Row is one line of a path's table: a Parkway number and, where the path has one, the
// anchor's number measured in the same run.
type Row struct {
	Path       string // the table the row is in
	Quantity   string
	Parkway    Ref
	AnchorName string // empty: the path has no anchor system for this number
	Anchor     Ref
	Goal       string // issue 12's goal for the Parkway number, as text
}

// ParkRates are the offered park + retrieve rates (cycles/s) the task runs, each as the
// sub-benchmark rate=<n> of the pool's benchmark and of the Asterisk anchor.
var ParkRates = []int{100, 300, 600, 1000}

// Paths are the tables, in order.
var Paths = []string{
	"1. Park + retrieve (SIPp, one pool process vs Asterisk res_parking, same CPU set)",
	"2. Media relay",
	"3. State fan-out to websockets",
	"4. Client start",
	"5. Pool SIGKILL → outage pushed",
}

// Rows maps benchmark metrics to table rows. The lead adjusts this table when a path's
// benchmark is renamed; nothing else in the package knows a benchmark's name.
var Rows = append(parkRows(),
	relayRow("CPU per packet at %d calls (µs)", 100, "cpu-µs/packet", "plain Go UDP forwarder", "plain", "≤ 0.5× plain forwarder"),
	relayRow("CPU per packet at %d calls (µs)", 100, "cpu-µs/packet", "rtpengine (userspace)", "rtpengine", ""),
	relayRow("CPU per packet at %d calls (µs)", 500, "cpu-µs/packet", "plain Go UDP forwarder", "plain", "≤ 0.5× plain forwarder"),
	relayRow("CPU per packet at %d calls (µs)", 500, "cpu-µs/packet", "rtpengine (userspace)", "rtpengine", ""),
	Row{Paths[1], "CPU per packet at 100 calls (µs), a socket per call (media.Relay)",
		Ref{"BenchmarkRelayProcesses/target=relay/calls=100/median", "cpu-µs/packet"},
		"plain Go UDP forwarder", Ref{"BenchmarkRelayProcesses/target=plain/calls=100/median", "cpu-µs/packet"}, ""},
	relayRow("added latency p99 at %d calls (µs, the direct hop's p99 as anchor)", 100, "p99-µs", "direct UDP, no relay", "direct", ""),
	relayRow("loss at %d calls (%%)", 100, "loss-%", "rtpengine (userspace)", "rtpengine", "< 0.1 %"),
	relayRow("loss at %d calls (%%)", 1000, "loss-%", "rtpengine (userspace)", "rtpengine", "< 0.1 %"),
	relayRow("memory per call at %d calls (MiB)", 500, "MiB/call", "rtpengine (userspace)", "rtpengine", ""),
	relayRow("CPU per packet at %d calls (µs)", 1000, "cpu-µs/packet", "plain Go UDP forwarder", "plain", "≤ 0.5× plain forwarder"),
	relayRow("CPU per packet at %d calls (µs)", 1000, "cpu-µs/packet", "rtpengine (userspace)", "rtpengine", ""),
	relayRow("late packets at %d calls (%%)", 1000, "late-%", "rtpengine (userspace)", "rtpengine", "< 1 %"),
	relayRow("late packets at %d calls (%%)", 1000, "late-%", "no relay: the load generator's self-check", "direct", "< 1 %"),
	relayRow("memory per call at %d calls (MiB)", 1000, "MiB/call", "rtpengine (userspace)", "rtpengine", ""),
	Row{Paths[1], "max concurrent calls at < 0.1 % loss, < 1 % late (RTP ⇄ RTP, separate load process)",
		Ref{"BenchmarkRelayProcesses/target=" + relayTarget + "/summary", "max-calls"},
		"rtpengine (userspace)", Ref{"BenchmarkRelayProcesses/target=rtpengine/summary", "max-calls"}, "≥ 1,000"},
	Row{Paths[1], "CPU growth 100 → 1,000 calls (1 = linear)",
		Ref{"BenchmarkRelayProcesses/target=" + relayTarget + "/summary", "cpu-growth-vs-linear"},
		"rtpengine (userspace)", Ref{"BenchmarkRelayProcesses/target=rtpengine/summary", "cpu-growth-vs-linear"}, ""},
	Row{Paths[1], "loss at 100 concurrent calls through the gateway (%)",
		Ref{gatewayLoad + "/calls=100", "lost-%"}, "", Ref{}, "< 0.1 %"},
	Row{Paths[1], "late packets at 100 concurrent calls through the gateway (%)",
		Ref{gatewayLoad + "/calls=100", "late-%"}, "", Ref{}, "< 1 %"},
	Row{Paths[1], "most concurrent calls through the gateway at < 0.1 % lost, < 1 % late (WebRTC ⇄ SIP/RTP; gateway, pools, SIPp and load generator each a process)",
		Ref{gatewayLoad + "/summary", "max-calls"}, "", Ref{}, "≥ 1,000"},
	Row{Paths[1], "most calls tried through the gateway (the last step run: the steps stop after one with ≥ 1 % lost + late)",
		Ref{gatewayLoad + "/summary", "most-calls-tried"}, "", Ref{}, ""},
	gatewayRow("the gateway process's CPU at %d calls through it (%% of one core)", 100, "gateway-cpu-%core"),
	gatewayRow("the gateway process's CPU at %d calls through it (%% of one core)", 300, "gateway-cpu-%core"),
	gatewayRow("the gateway process's CPU at %d calls through it (%% of one core)", 1000, "gateway-cpu-%core"),
	gatewayRow("the gateway process's CPU per packet relayed at %d calls (µs; either way, by its /metrics)", 100, "gateway-cpu-µs/packet"),
	gatewayRow("the gateway process's CPU per packet relayed at %d calls (µs; either way, by its /metrics)", 1000, "gateway-cpu-µs/packet"),
	Row{Paths[1], "the gateway's CPU growth over the steps measured: CPU per packet relayed at the last ÷ at the first (1 = linear)",
		Ref{gatewayLoad + "/summary", "cpu-growth-vs-linear"}, "", Ref{}, ""},
	gatewayRow("the gateway process's memory per call at %d calls (KiB RSS, a signed-in user with one call)", 100, "gateway-rss-KiB/call"),
	gatewayRow("the gateway process's memory per call at %d calls (KiB RSS, a signed-in user with one call)", 1000, "gateway-rss-KiB/call"),
	gatewayRow("the load generator's CPU at %d calls (%% of one core; the browsers' pion, beside the gateway on the same CPUs)", 100, "loadgen-cpu-%core"),
	Row{Paths[2], "p99, 10,000 clients, arrived: state in the last client's socket (ms)", Ref{"BenchmarkFanout/clients=10000", "arrived-p99-ms"}, "", Ref{}, "≤ 90 ms"},
	Row{Paths[2], "p50, 10,000 clients, arrived (ms)", Ref{"BenchmarkFanout/clients=10000", "arrived-p50-ms"}, "", Ref{}, ""},
	Row{Paths[2], "median client's arrival, 10,000 clients (ms)", Ref{"BenchmarkFanout/clients=10000", "arrived-client-p50-ms"}, "", Ref{}, ""},
	Row{Paths[2], "p99, 10,000 clients, read: the last client has read it (ms)", Ref{"BenchmarkFanout/clients=10000", "p99-ms"}, "", Ref{}, ""},
	Row{Paths[2], "p50, 10,000 clients, read (ms)", Ref{"BenchmarkFanout/clients=10000", "p50-ms"}, "", Ref{}, ""},
	Row{Paths[2], "gateway CPU per phase change, 10,000 clients (ms)", Ref{"BenchmarkFanout/clients=10000", "gw-cpu-ms"}, "", Ref{}, ""},
	Row{Paths[2], "client swarm CPU per phase change, 10,000 clients (ms)", Ref{"BenchmarkFanout/clients=10000", "swarm-cpu-ms"}, "", Ref{}, ""},
	Row{Paths[2], "p99, 1,000 clients, arrived (ms)", Ref{"BenchmarkFanout/clients=1000", "arrived-p99-ms"}, "", Ref{}, ""},
	Row{Paths[2], "p99, 1,000 clients, read (ms)", Ref{"BenchmarkFanout/clients=1000", "p99-ms"}, "", Ref{}, ""},
	Row{Paths[3], "main.wasm as served to Chromium (bytes)", Ref{"PlaywrightLoad", "served-bytes"}, "", Ref{}, "≤ 1,200,000"},
	Row{Paths[3], "main.wasm raw (bytes)", Ref{"PlaywrightLoad", "raw-bytes"}, "", Ref{}, ""},
	Row{Paths[3], "navigation → ready, cold, median (ms)", Ref{"PlaywrightLoad", "cold-ready-ms"}, "", Ref{}, "≤ 800 ms"},
	Row{Paths[3], "navigation → ready, warm, median (ms)", Ref{"PlaywrightLoad", "warm-ready-ms"}, "", Ref{}, "≤ 300 ms"},
	Row{Paths[3], "CPU to ready, cold: main thread, median (ms)", Ref{"PlaywrightLoad", "cold-main-thread-cpu-ms"}, "", Ref{}, ""},
	Row{Paths[3], "CPU to ready, cold: whole renderer, median (ms)", Ref{"PlaywrightLoad", "cold-renderer-cpu-ms"}, "", Ref{}, ""},
	Row{Paths[3], "CPU to ready, warm: main thread, median (ms)", Ref{"PlaywrightLoad", "warm-main-thread-cpu-ms"}, "", Ref{}, ""},
	Row{Paths[3], "CPU to ready, warm: whole renderer, median (ms)", Ref{"PlaywrightLoad", "warm-renderer-cpu-ms"}, "", Ref{}, ""},
	Row{Paths[4], "kill → outage on the websocket, median of 20 (ms)", Ref{"BenchmarkOutagePushed", "p50-ms"}, "", Ref{}, "≤ 100 ms (median of 20)"},
)

// parkRows are path 1's rows: four numbers at each offered rate.
func parkRows() []Row {
	var rows []Row
	for _, r := range ParkRates {
		pool := fmt.Sprintf("BenchmarkSIPpParkRetrieve/rate=%d", r)
		ast := fmt.Sprintf("BenchmarkAsteriskParkRetrieve/rate=%d", r)
		row := func(q, poolMetric, astMetric, goal string) Row {
			return Row{Paths[0], fmt.Sprintf("%d/s offered: %s", r, q), Ref{pool, poolMetric},
				"Asterisk 22 res_parking", Ref{ast, astMetric}, goal}
		}
		// issue 12: ≥ 1,000 cycles/s at 1,000 offered, ahead of Asterisk at every rate
		rate := "≥ 1× Asterisk's (ahead at every rate)"
		if r >= 1000 {
			rate = "≥ 1,000; ahead of Asterisk"
		}
		rows = append(rows,
			row("cycles/s achieved", "cycles/s", "cycles/s", rate),
			row("failed cycles", "cycles-failed", "failed-cycles", "≤ 0: overload → 503, never a failed call"),
			row("503s", "503s", "503s", ""),
			row("CPU ms/cycle", "pool-cpu-ms/cycle", "cpu-ms/cycle", ""),
			// What the load generators take of the same CPUs: the pool's ceiling is
			// what is left (issue #12).
			Row{Paths[0], fmt.Sprintf("%d/s offered: SIPp CPU ms/cycle (same CPUs)", r), Ref{pool, "sipp-cpu-ms/cycle"}, "", Ref{}, ""},
		)
	}
	return rows
}

// relayTarget is the relay benchmark's target reported as Parkway's relay:
// media.MuxRelay, every call on one shared port (ngrelay mode relay-shared).
const relayTarget = "relay-shared"

// relayRow is a path-2 row from the relay benchmark (media/rtpload's
// BenchmarkRelayProcesses): Parkway's relay at calls concurrent calls against target,
// each the median of its MEDIA_RELAY_REPEAT runs.
func relayRow(quantity string, calls int, metric, anchorName, target, goal string) Row {
	at := func(t string) Ref {
		return Ref{fmt.Sprintf("BenchmarkRelayProcesses/target=%s/calls=%d/median", t, calls), metric}
	}
	return Row{Paths[1], fmt.Sprintf(quantity, calls), at(relayTarget), anchorName, at(target), goal}
}

// gatewayLoad is the benchmark through the whole gateway (media/webload
// bench_test.go): the gateway, the pools, SIPp and the load generator (cmd/webload) each
// a process of its own, the gateway's CPU and RSS read from /proc.
const gatewayLoad = "BenchmarkGatewayProcesses"

// gatewayRow is a path-2 row from the gateway benchmark's step of calls concurrent calls.
func gatewayRow(quantity string, calls int, metric string) Row {
	return Row{Paths[1], fmt.Sprintf(quantity, calls), Ref{fmt.Sprintf("%s/calls=%d", gatewayLoad, calls), metric}, "", Ref{}, ""}
}
