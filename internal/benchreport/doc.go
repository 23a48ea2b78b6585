// Package benchreport turns the output of the benchmarks `go tool task bench-anchors` runs
// into BENCHMARKS.md: one table per performance path, each Parkway number next to the
// anchor measured in the same run (Asterisk, a plain Go forwarder, rtpengine) and the
// ratio of the two, under a description of the machine.
//
// Its input is standard Go benchmark output (name, iterations, ns/op and b.ReportMetric
// units), the "--- SKIP"/"--- FAIL" lines that say why a benchmark has no numbers, lines
// "NOT MEASURED <name>: <reason>" the task writes for a step it could not run, and the
// console lines of the Playwright load spec (playwright/tests/load.spec.ts), read as a
// benchmark named PlaywrightLoad. Which benchmark metric lands in which table row is the
// one table Rows (rows.go): change it there when a benchmark is renamed.
//
// Each row is checked against its goal (goals.go: the goal's first comparison), and the
// report ends with the goals the run missed and, for each path that missed one, what the
// run measured about why (why.go): issue 12 asks, where a goal is missed, for the profile
// that shows why. The park path's comes from the pool's CPU profile of the same run
// (profile.go sorts its samples into kinds of work) and its load generator's CPU.
package benchreport
