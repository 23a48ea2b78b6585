// Package parkanchor measures the park anchor of issue 12: Asterisk's res_parking under
// the same SIPp park + retrieve load as a `parkway pool` process (BenchmarkSIPpParkRetrieve
// in pool/), so BENCHMARKS.md can show Parkway's numbers as ratios to it.
//
// Asterisk is not a Go dependency: scripts/anchors/build-asterisk.sh builds it once into a
// cache directory, and BenchmarkAsteriskParkRetrieve runs that binary (PARKWAY_ASTERISK) as
// a separate process on loopback with a configuration this package writes into a temporary
// directory (WriteAsteriskConfig): chan_pjsip on UDP, a parking lot with a slot range,
// a dialplan that parks a blind-transferred call into the slot named in the REFER, CDR and
// CEL off, logging at error. The benchmark is skipped, with a note, when PARKWAY_ASTERISK
// is unset; it runs only from `go tool task bench-anchors`, never in `go tool task test`.
//
// The SIPp flow (testdata/sipp) follows pool/testdata/sipp where Asterisk allows it; the
// scenario files say where it differs and why.
package parkanchor
