package benchreport

import (
	"fmt"
	"math"
	"strings"
)

// Render writes BENCHMARKS.md: the machine (as the task recorded it), one table per path
// in Paths with the rows of rows that belong to it, each checked against its goal, and
// then the goals missed with what the run measured about why (profiles: the directory of
// the run's CPU profiles; "" for none).
func Render(machine string, r *Results, rows []Row, profiles string) string {
	var b strings.Builder
	b.WriteString("# Benchmarks against the anchors\n\n")
	b.WriteString("Written by `go tool task bench-anchors` (internal/benchreport) from one run: every number\n")
	b.WriteString("below was measured in that run, Parkway's next to the anchor's. \"Parkway ÷ anchor\" is the\n")
	b.WriteString("ratio of the two (above 1 is better for rates, below 1 for CPU and latency). Benchmarks report,\n")
	b.WriteString("they never assert; on a shared machine read them with its load.\n\n")
	b.WriteString("## Machine\n\n```\n")
	b.WriteString(strings.TrimRight(machine, "\n"))
	b.WriteString("\n```\n")
	for _, path := range Paths {
		fmt.Fprintf(&b, "\n## %s\n\n", path)
		b.WriteString("| | Parkway | anchor | anchor's | Parkway ÷ anchor | goal | |\n")
		b.WriteString("|---|---:|---|---:|---:|---|---|\n")
		for _, row := range rows {
			if row.Path != path {
				continue
			}
			p, pwhy := r.Lookup(row.Parkway)
			anchor, aval, ratio := "—", "—", "—"
			if row.AnchorName != "" {
				anchor = row.AnchorName
				a, awhy := r.Lookup(row.Anchor)
				aval = cell(a, awhy)
				if pwhy == "" && awhy == "" && a != 0 {
					ratio = fmt.Sprintf("%.2f×", p/a)
				}
			}
			goal := row.Goal
			if goal == "" {
				goal = "—"
			}
			verdict := Verdict(r, row)
			if verdict == "missed" {
				verdict = "**missed**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", row.Quantity, cell(p, pwhy), anchor, aval, ratio, goal, verdict)
		}
		if note := PathNotes[path]; note != "" {
			fmt.Fprintf(&b, "\n%s\n", note)
		}
	}
	renderMissed(&b, r, rows, machine, profiles)
	return b.String()
}

// cell is a number for a table, or "not measured (why)".
func cell(v float64, why string) string {
	if why != "" {
		return "not measured (" + strings.ReplaceAll(why, "|", "/") + ")"
	}
	switch a := math.Abs(v); {
	case a == math.Trunc(a) || a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
