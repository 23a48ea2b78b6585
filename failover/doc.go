// Package failover holds Parkway's pool-failure tests with separate processes: each
// test builds nothing itself (TestMain builds cmd/parkway once, or takes $PARKWAY_BIN:
// `go tool task unit` passes the bin/parkway it has just built), starts `parkway pool`
// twice and `parkway gateway` once on free loopback ports, drives them with
// browsertest softphones, and kills the home pool with SIGKILL — a crash, not a
// graceful stop. There is one test per cell of ARCHITECTURE.md §2's call-state table (three
// call states × outage, failover, failback) plus a planned failover, each checking
// audio both ways on every call that should still be connected and the exact refusal
// on every action that should not be possible. BENCHMARKS.md has the timings the
// benchmarks here measure.
//
// The package has no code of its own; everything is in its tests.
package failover
