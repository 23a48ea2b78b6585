package benchreport

import (
	"regexp"
	"strconv"
	"strings"
)

// A row's goal is checked by its first comparison: "≥ 1,000", "≤ 90 ms", "< 0.1 %" bound
// the Parkway number, "≤ 0.5×" its ratio to the anchor measured in the same run; a goal
// without one ("—", prose) reports and is not checked. So the goal a reader sees is the
// one the verdict applies.
var goalBound = regexp.MustCompile(`([≥≤<])\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*(×)?`)

// Verdict says whether the row's numbers meet its goal: "met", "missed", or "" when the
// goal has no comparison or a number it needs is missing.
func Verdict(r *Results, row Row) string {
	m := goalBound.FindStringSubmatch(row.Goal)
	if m == nil {
		return ""
	}
	limit, err := strconv.ParseFloat(strings.ReplaceAll(m[2], ",", ""), 64)
	if err != nil {
		return ""
	}
	v, why := r.Lookup(row.Parkway)
	if why != "" {
		return ""
	}
	if m[3] == "×" {
		a, awhy := r.Lookup(row.Anchor)
		if row.AnchorName == "" || awhy != "" || a == 0 {
			return ""
		}
		v /= a
	}
	if (m[1] == "≥" && v >= limit) || (m[1] == "≤" && v <= limit) || (m[1] == "<" && v < limit) {
		return "met"
	}
	return "missed"
}
