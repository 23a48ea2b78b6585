package gateway

import (
	"bytes"
	"context"
	"runtime/pprof"
	"strings"

	"github.com/google/pprof/profile"
)

// The calls benchmark runs the gateway, its pools and the simulated browsers (pion) in
// one process, so the process's CPU is all three's. To tell the gateway's own share, the
// benchmark marks the goroutines of the other two with a profiler label — a goroutine
// inherits its creator's labels, so everything a browser or a pool starts carries it —
// and profiles each measured window: unlabelled samples are the gateway's (its
// goroutines are started by its own HTTP and SIP servers), the garbage collector's
// background work is shown apart (it serves all three).

const cpuSide = "side"

// Sides of the process a sample can belong to.
const (
	sideGateway  = "gateway"
	sideBrowsers = "browsers"
	sidePools    = "pools"
	sideGC       = "gc"
)

// labelled returns ctx with this goroutine's label set to side (and sets it): what the
// goroutine starts from now on is side's.
func labelled(side string) {
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels(cpuSide, side)))
}

// cpuSplit profiles the process's CPU until its stop is called, which returns each
// side's share of the samples (nil when the profiler was already in use, e.g. under
// go test -cpuprofile).
func cpuSplit() (stop func() map[string]float64) {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		return func() map[string]float64 { return nil }
	}
	return func() map[string]float64 {
		pprof.StopCPUProfile()
		p, err := profile.Parse(&buf)
		if err != nil {
			return nil
		}
		return sideShares(p)
	}
}

// sideShares is each side's fraction of a CPU profile's samples.
func sideShares(p *profile.Profile) map[string]float64 {
	sums := map[string]float64{}
	total := 0.0
	for _, s := range p.Sample {
		v := float64(s.Value[len(s.Value)-1]) // cpu nanoseconds
		total += v
		side := sideGateway
		if l := s.Label[cpuSide]; len(l) > 0 {
			side = l[0]
		} else if inGCWorker(s) {
			side = sideGC
		}
		sums[side] += v
	}
	if total == 0 {
		return nil
	}
	for k := range sums {
		sums[k] /= total
	}
	return sums
}

func inGCWorker(s *profile.Sample) bool {
	for _, loc := range s.Location {
		for _, line := range loc.Line {
			if line.Function != nil && strings.HasPrefix(line.Function.Name, "runtime.gcBgMarkWorker") {
				return true
			}
		}
	}
	return false
}
