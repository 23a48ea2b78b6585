package webload

import (
	"fmt"
	"strconv"
	"strings"
)

// Lines cmd/webload prints, for a process that runs it (the benchmark): each window's
// edges as WindowStart or WindowEnd followed by " calls=N", and the result as JSON after
// ResultPrefix.
const (
	WindowStart  = "webload: window start"
	WindowEnd    = "webload: window end"
	ResultPrefix = "RESULT "
)

// WindowLine is the line cmd/webload prints at a window's edge.
func WindowLine(calls int, start bool) string {
	if start {
		return fmt.Sprintf("%s calls=%d", WindowStart, calls)
	}
	return fmt.Sprintf("%s calls=%d", WindowEnd, calls)
}

// ParseWindowLine reads a WindowLine back; ok is false for any other line.
func ParseWindowLine(line string) (calls int, start, ok bool) {
	rest, start := strings.CutPrefix(line, WindowStart+" calls=")
	if !start {
		if rest, ok = strings.CutPrefix(line, WindowEnd+" calls="); !ok {
			return 0, false, false
		}
	}
	n, err := strconv.Atoi(rest)
	return n, start, err == nil
}

// ParseSteps reads a comma-separated list of rising call counts.
func ParseSteps(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("webload: step %q is not a positive number", f)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("webload: steps must rise: %s", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// BenchmarkLine formats s as one line of Go benchmark output (one iteration), so tools
// that collect benchmark results read it.
func (s *Step) BenchmarkLine(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\t1", name)
	for _, m := range s.Metrics() {
		fmt.Fprintf(&b, "\t%.4g %s", m.Value, m.Unit)
	}
	return b.String()
}

// Metric is one reported number and its unit.
type Metric struct {
	Value float64
	Unit  string
}

// Metrics are the step's numbers under the units the benchmarks report.
func (s *Step) Metrics() []Metric {
	ms := func(d interface{ Seconds() float64 }) float64 { return d.Seconds() * 1e3 }
	return []Metric{
		{s.LossPct, "lost-%"},
		{s.LatePct, "late-%"},
		{ms(s.RTTP50), "rtt-p50-ms"},
		{ms(s.RTTP99), "rtt-p99-ms"},
		{ms(s.RTTMax), "rtt-max-ms"},
		{float64(s.Sent) / max(s.Seconds, 1e-9), "probes/s"},
		{float64(s.Silent), "silent-calls"},
		{float64(s.Misrouted), "misrouted"},
		{float64(s.Ended), "ended-calls"},
		{ms(s.SendLagMax), "pacer-lag-max-ms"},
		{float64(s.Unsent), "unsent"},
		{s.LoadCPU, "loadgen-cpu-%core"},
		{s.SetupSeconds, "setup-s"},
	}
}
