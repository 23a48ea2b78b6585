package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// cpuProfileUsage and memProfileUsage are the help of the profiling flags.
const (
	cpuProfileUsage = "write a CPU profile (pprof) of this process to this file, from start until exit"
	memProfileUsage = "write an allocation profile (pprof, every allocation since start) to this file at exit"
)

// startProfiles starts the CPU profile when cpuPath is set and returns what writes both
// profiles at exit. Off (both empty) it costs nothing. The allocation profile samples
// every 64 KiB allocated (a denser rate than the default 512 KiB, for short runs).
func startProfiles(cpuPath, memPath string) (stop func() error, err error) {
	var cpu *os.File
	if cpuPath != "" {
		if cpu, err = os.Create(cpuPath); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		if err = pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
	}
	if memPath != "" {
		runtime.MemProfileRate = 64 << 10
	}
	return func() error {
		if cpu != nil {
			pprof.StopCPUProfile()
			if err := cpu.Close(); err != nil {
				return fmt.Errorf("cpu profile: %w", err)
			}
		}
		if memPath == "" {
			return nil
		}
		f, err := os.Create(memPath)
		if err != nil {
			return fmt.Errorf("allocation profile: %w", err)
		}
		defer f.Close()
		// Its in-use figures are those of the last collection, which at GOGC 400 can be
		// seconds old: collect first, so they are what the process holds at exit (what
		// a park round leaves for its 32 s, issue #12).
		runtime.GC()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return fmt.Errorf("allocation profile: %w", err)
		}
		return f.Close()
	}, nil
}
