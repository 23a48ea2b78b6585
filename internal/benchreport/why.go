package benchreport

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Issue 12 asks, where a goal is missed, for the profile that shows why. renderMissed
// lists the rows whose goal this run missed and, under them, what the run itself measured
// about each path that missed one: the numbers come from the same run, never from text
// written by hand, so the explanation cannot go stale.

// explainers say why a path missed a goal, from the run's results; "" when they have
// nothing to add.
var explainers = map[string]func(r *Results, machine, profiles string) string{
	Paths[0]: explainPark,
	Paths[1]: explainGatewayLoad,
	Paths[3]: explainClientStart,
}

func renderMissed(b *strings.Builder, r *Results, rows []Row, machine, profiles string) {
	var missed []Row
	for _, row := range rows {
		if Verdict(r, row) == "missed" {
			missed = append(missed, row)
		}
	}
	b.WriteString("\n## Goals missed in this run, and why\n\n")
	if len(missed) == 0 {
		b.WriteString("None: every number with a goal met it.\n")
		return
	}
	for _, row := range missed {
		v, _ := r.Lookup(row.Parkway)
		table := strings.TrimSuffix(strings.SplitN(row.Path, " ", 2)[0], ".")
		fmt.Fprintf(b, "- table %s, %s: **%s** (goal %s)\n", table, row.Quantity, cell(v, ""), row.Goal)
	}
	seen := map[string]bool{}
	for _, row := range missed {
		if seen[row.Path] {
			continue
		}
		seen[row.Path] = true
		why := "Nothing in this run says why; the raw output in the task's output directory has every number."
		if explain := explainers[row.Path]; explain != nil {
			if s := explain(r, machine, profiles); s != "" {
				why = s
			}
		}
		fmt.Fprintf(b, "\n### %s\n\n%s\n", row.Path, strings.TrimRight(why, "\n"))
	}
}

var nprocLine = regexp.MustCompile(`(?m)^nproc:?\s*(\d+)`)

// loadAt finds the run's "load average at start: …" and "load average at end: …" lines.
var loadAt = regexp.MustCompile(`(?m)^load average at (start|end):\s*(.+?)\s*$`)

// explainPark puts the CPU a cycle costs the pool against the CPUs the machine has,
// beside what its load generator takes of them at the goal, and sorts the pool's CPU
// profile by kind of work at the highest rate at which nothing was shed (there each
// cycle's cost is a whole cycle's: a round that refused calls also spent CPU on the
// refusals).
func explainPark(r *Results, machine, profiles string) string {
	type round struct {
		rate            int
		pool, sipp      float64 // ms per cycle done
		sippPct         float64 // SIPps' CPU, % of one CPU
		shed, hasSIPpPc bool
	}
	var rounds []round
	for _, n := range ParkRates {
		bench := fmt.Sprintf("BenchmarkSIPpParkRetrieve/rate=%d", n)
		p, pwhy := r.Lookup(Ref{bench, "pool-cpu-ms/cycle"})
		s, swhy := r.Lookup(Ref{bench, "sipp-cpu-ms/cycle"})
		if pwhy != "" || swhy != "" {
			continue
		}
		pct, pctWhy := r.Lookup(Ref{bench, "sipp-cpu-%"})
		shed, shedWhy := r.Lookup(Ref{bench, "cycles-shed"})
		rounds = append(rounds, round{n, p, s, pct, shedWhy != "" || shed > 0, pctWhy == ""})
	}
	if len(rounds) == 0 {
		return ""
	}
	cheapest, clean := rounds[0], rounds[0]
	for _, rd := range rounds {
		if rd.pool < cheapest.pool {
			cheapest = rd
		}
		if !rd.shed {
			clean = rd
		}
	}
	cpus := 0
	if m := nprocLine.FindStringSubmatch(machine); m != nil {
		cpus, _ = strconv.Atoi(m[1])
	}
	var b strings.Builder
	// ms of CPU per cycle × 1,000 cycles a second ÷ 1,000 ms a second = CPUs
	fmt.Fprintf(&b, "A cycle done cost the pool **%.2f ms** of CPU at its cheapest (%d/s offered; each round's CPU\n", cheapest.pool, cheapest.rate)
	b.WriteString("from start to the last SIPp's exit, over its cycles done: the CPU ms/cycle rows). At that cost\n")
	fmt.Fprintf(&b, "1,000 cycles a second take **%.2f CPUs for the pool alone**", cheapest.pool*1000/1000)
	if cpus > 0 {
		fmt.Fprintf(&b, "; this machine has **%d**", cpus)
	}
	// The load generator's own share of the goal, at its cheapest cycle in this run: what
	// no pool, however cheap, can get back on the same CPUs.
	sippLeast := rounds[0]
	for _, rd := range rounds {
		if rd.sipp < sippLeast.sipp {
			sippLeast = rd
		}
	}
	need := (cheapest.pool + sippLeast.sipp) * 1000 / 1000
	fmt.Fprintf(&b, ".\nThe five SIPp processes that drive it, on the same CPUs, took **%.2f ms** a cycle at their cheapest\n", sippLeast.sipp)
	fmt.Fprintf(&b, "(%d/s offered): **%.2f CPUs** at 1,000 cycles a second, so pool and load generator together\nneed **%.1f CPUs**", sippLeast.rate, sippLeast.sipp*1000/1000, need)
	if cpus > 0 {
		if left := float64(cpus) - sippLeast.sipp; left > 0 {
			fmt.Fprintf(&b, ", and in the %.2f CPUs the SIPps would leave the pool would have to be **%.1f× cheaper per\ncycle**", left, cheapest.pool/left)
		} else {
			b.WriteString(": the SIPps alone would take every CPU this machine has")
		}
	}
	b.WriteString(".\nPast what the CPUs keep up with, the pool's admission gate answers new calls 503 (the 503s\n")
	b.WriteString("rows) rather than fail the calls it took (the failed-cycles rows).\n\n")
	b.WriteString("| offered | pool CPU ms/cycle | SIPps' CPU ms/cycle | SIPps' CPU, share of one CPU |\n|---:|---:|---:|---:|\n")
	for _, rd := range rounds {
		pct := "—"
		if rd.hasSIPpPc {
			pct = fmt.Sprintf("%.0f %%", rd.sippPct)
		}
		fmt.Fprintf(&b, "| %d/s | %.2f | %.2f | %s |\n", rd.rate, rd.pool, rd.sipp, pct)
	}
	rate, pool := clean.rate, clean.pool
	if profiles == "" {
		return b.String()
	}
	prof := filepath.Join(profiles, fmt.Sprintf("pool-cpu-rate%d.pprof", rate))
	shares, total, span, err := CPUBreakdown(prof, PoolBuckets)
	if err != nil {
		fmt.Fprintf(&b, "\nThe pool's CPU profile could not be read: %v\n", err)
		return b.String()
	}
	fmt.Fprintf(&b, "\nWhere the pool's CPU went at %d/s (`%s`, %.2f s of CPU over %.1f s; each\n", rate, filepath.Base(prof), total, span)
	b.WriteString("sample goes to the first kind of work, from the running function up, that claims one of its\n")
	b.WriteString("frames: internal/benchreport's PoolBuckets):\n\n")
	b.WriteString("| work | share of the pool's CPU | ms per cycle |\n|---|---:|---:|\n")
	for _, s := range shares {
		if total == 0 || s.Seconds == 0 {
			continue
		}
		fmt.Fprintf(&b, "| %s | %.1f %% | %.2f |\n", s.Name, s.Seconds/total*100, s.Seconds/total*pool)
	}
	return b.String()
}

// explainClientStart says when each step of the median load happened and what the main
// thread spent its CPU on (the traced loads), for the kinds of load that missed.
func explainClientStart(r *Results, _, _ string) string {
	var b strings.Builder
	for _, kind := range []string{"cold", "warm"} {
		ready, why := r.Lookup(Ref{loadBench, kind + "-ready-ms"})
		if why != "" {
			continue
		}
		var steps []string
		for _, s := range []struct{ key, what string }{
			{"compiled", "main.wasm compiled"},
			{"wasm-running", "the Go program running"},
			{"sign-in", "signed in"},
			{"ws-open", "websocket taken over"},
			{"welcome", "the gateway's welcome"},
		} {
			if v, why := r.Lookup(Ref{loadBench, kind + "-" + s.key + "-ms"}); why == "" {
				steps = append(steps, fmt.Sprintf("%s at %.0f", s.what, v))
			}
		}
		if len(steps) == 0 {
			continue
		}
		fmt.Fprintf(&b, "- %s load, median %.0f ms to ready; the steps' medians, ms from navigation: %s.\n", kind, ready, strings.Join(steps, ", "))
		if t, ok := r.Text[kind+"-cpu-by-task"]; ok {
			fmt.Fprintf(&b, "  Main-thread CPU to ready by what it ran (traced loads, medians in ms): %s.\n", t)
		}
	}
	return b.String()
}

// explainGatewayLoad puts the processes' CPU at the last step through the gateway that
// met the loss rule and at the first that did not (media/webload's benchmark) against the
// machine's CPUs: the gateway's own, and what the load generator, the pools and SIPp took
// of the same CPUs beside it.
func explainGatewayLoad(r *Results, machine, profiles string) string {
	sum := Ref{gatewayLoad + "/summary", ""}
	lookup := func(bench, metric string) (float64, bool) {
		v, why := r.Lookup(Ref{bench, metric})
		return v, why == ""
	}
	best, _ := lookup(sum.Bench, "max-calls")
	failed, ok := lookup(sum.Bench, "first-failed-calls")
	if !ok {
		return ""
	}
	cpus := 0
	if m := nprocLine.FindStringSubmatch(machine); m != nil {
		cpus, _ = strconv.Atoi(m[1])
	}
	var b strings.Builder
	b.WriteString("Through the gateway (BenchmarkGatewayProcesses): each process's CPU over the step's window,\n")
	b.WriteString("in CPUs, at the last step that met < 0.1 % lost and < 1 % late and the first that did not:\n\n")
	b.WriteString("| calls | lost % | late % | gateway | load generator | pools | SIPp | all | gateway per 1,000 calls |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var gwAtFail, lgAtFail float64
	for _, n := range []float64{best, failed} {
		if n == 0 {
			continue
		}
		bench := fmt.Sprintf("%s/calls=%d", gatewayLoad, int(n))
		var v [6]float64
		measured := true
		for i, m := range []string{"lost-%", "late-%", "gateway-cpu-%core", "loadgen-cpu-%core", "pools-cpu-%core", "sipp-cpu-%core"} {
			var ok bool
			v[i], ok = lookup(bench, m)
			measured = measured && ok
		}
		if !measured {
			continue
		}
		all := (v[2] + v[3] + v[4] + v[5]) / 100
		fmt.Fprintf(&b, "| %d | %.3f | %.3f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n",
			int(n), v[0], v[1], v[2]/100, v[3]/100, v[4]/100, v[5]/100, all, v[2]/100/n*1000)
		gwAtFail, lgAtFail = v[2]/100, v[3]/100
	}
	fmt.Fprintf(&b, "\nAt %d calls the gateway process used %.2f", int(failed), gwAtFail)
	if cpus > 0 {
		fmt.Fprintf(&b, " of the machine's %d CPUs", cpus)
	}
	fmt.Fprintf(&b, ", the load generator %.2f\n", lgAtFail)
	b.WriteString("(the browsers' side: ICE, DTLS, SRTP for every call, which real users' machines carry) on the\n")
	b.WriteString("same CPUs")
	if m := loadAt.FindAllStringSubmatch(machine, -1); len(m) > 0 {
		var loads []string
		for _, l := range m {
			loads = append(loads, l[2]+" at the "+l[1])
		}
		fmt.Fprintf(&b, "; the machine's load average (1, 5, 15 min): %s, so other work took\nits share of them too", strings.Join(loads, ", "))
	}
	b.WriteString(".\n")
	if failed > 0 && lgAtFail > 0 {
		// CPU a call at the failed step, times the goal's 1,000 calls: linear, which if
		// anything overstates the gateway's share (its CPU a packet falls as calls grow)
		// and is fair to the generator's (one PeerConnection a call).
		fmt.Fprintf(&b, "At the goal's 1,000 calls, at the same CPU a call, the load generator alone would take\n**%.2f CPUs** and the gateway **%.2f**", lgAtFail/failed*1000, gwAtFail/failed*1000)
		if cpus > 0 {
			fmt.Fprintf(&b, ": %.1f of this machine's %d", (lgAtFail+gwAtFail)/failed*1000, cpus)
		}
		b.WriteString(".\n")
	}
	if profiles == "" {
		return b.String()
	}
	prof := filepath.Join(profiles, "gateway-cpu-webload.pprof")
	shares, total, span, err := CPUBreakdown(prof, GatewayBuckets)
	if err != nil {
		fmt.Fprintf(&b, "\nThe gateway's CPU profile could not be read: %v\n", err)
		return b.String()
	}
	fmt.Fprintf(&b, "\nWhere the gateway's CPU went (`%s`, %.2f s of CPU over %.1f s: the whole run, sign-ins,\n", filepath.Base(prof), total, span)
	b.WriteString("call set-up and every step; each sample goes to the first kind of work, from the running\n")
	b.WriteString("function up, that claims one of its frames: internal/benchreport's GatewayBuckets):\n\n")
	b.WriteString("| work | share of the gateway's CPU |\n|---|---:|\n")
	for _, s := range shares {
		if total == 0 || s.Seconds == 0 {
			continue
		}
		fmt.Fprintf(&b, "| %s | %.1f %% |\n", s.Name, s.Seconds/total*100)
	}
	return b.String()
}
