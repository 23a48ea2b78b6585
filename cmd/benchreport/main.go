// Command benchreport writes BENCHMARKS.md from the benchmark output files of one
// `go tool task bench-anchors` run (see internal/benchreport).
//
//	benchreport -machine machine.txt -o BENCHMARKS.md -profiles DIR park-100.txt@rate=100 media.txt ...
//
// An argument file@sub names every benchmark in file as a sub-benchmark sub (the task
// runs the park benchmarks once per offered rate).
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/parkway/parkway/internal/benchreport"
)

func main() {
	machine := flag.String("machine", "", "file describing the machine (uname, nproc, CPU model, load average at start)")
	out := flag.String("o", "BENCHMARKS.md", "file to write")
	profiles := flag.String("profiles", "", "directory of the run's CPU profiles (pool-cpu-rate<N>.pprof), read to say why a goal was missed")
	flag.Parse()
	if err := run(*machine, *out, *profiles, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(machineFile, out, profiles string, inputs []string) error {
	if machineFile == "" || len(inputs) == 0 {
		return fmt.Errorf("usage: benchreport -machine FILE [-o BENCHMARKS.md] OUTPUT[@SUB]...")
	}
	machine, err := os.ReadFile(machineFile)
	if err != nil {
		return err
	}
	results := benchreport.NewResults()
	for _, in := range inputs {
		file, sub, _ := strings.Cut(in, "@")
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		err = results.Parse(f, sub)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	return os.WriteFile(out, []byte(benchreport.Render(string(machine), results, benchreport.Rows, profiles)), 0o644)
}
