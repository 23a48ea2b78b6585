package rtpload

import (
	"fmt"
	"strings"
)

// Lines cmd/rtpload prints, for a process that runs it (the benchmark):
// the measured window's edges, and the result as JSON after ResultPrefix.
const (
	WindowStart  = "rtpload: window start"
	WindowEnd    = "rtpload: window end"
	ResultPrefix = "RESULT "
)

// BenchmarkLine formats r as one line of Go benchmark output (one
// iteration), so tools that collect benchmark results read it.
func (r *Result) BenchmarkLine(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\t1", name)
	for _, m := range r.Metrics() {
		fmt.Fprintf(&b, "\t%.4g %s", m.Value, m.Unit)
	}
	return b.String()
}

// Metric is one reported number and its unit.
type Metric struct {
	Value float64
	Unit  string
}

// Metrics are the result's numbers under the units the benchmarks report:
// loss and lateness in % of the packets sent, lateness (arrival − due
// time) quantiles, the load generator's own lateness at sending, its
// receive-buffer drops and its CPU.
func (r *Result) Metrics() []Metric {
	return []Metric{
		{r.LossPct, "loss-%"},
		{r.LatePct, "late-%"},
		{float64(r.P50.Microseconds()), "p50-µs"},
		{float64(r.P99.Microseconds()), "p99-µs"},
		{float64(r.Max.Microseconds()), "max-µs"},
		{float64(r.Sent) / r.Seconds, "packets/s"},
		{float64(r.SendLagP99.Microseconds()), "send-lag-p99-µs"},
		{float64(r.ReceiveDrops), "loadgen-drops"},
		{float64(r.Unsent), "unsent"},
		{float64(r.Misrouted + r.Duplicates), "misrouted+dup"},
		{r.LoadCPU, "loadgen-cpu-%"},
	}
}
