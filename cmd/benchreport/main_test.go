package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunWritesTheReportAndNamesRatesFromTheArgument(t *testing.T) {
	dir := t.TempDir()
	machine := filepath.Join(dir, "machine.txt")
	park := filepath.Join(dir, "park.txt")
	out := filepath.Join(dir, "BENCHMARKS.md")
	os.WriteFile(machine, []byte("nproc: 2\n"), 0o600)
	os.WriteFile(park, []byte("BenchmarkAsteriskParkRetrieve-2   500   1 ns/op   75.00 cycles/s\n"), 0o600)
	if err := run(machine, out, "", []string{park + "@rate=100"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "| 100/s offered: cycles/s achieved | not measured (no output of BenchmarkSIPpParkRetrieve/rate=100) | Asterisk 22 res_parking | 75 |") {
		t.Fatalf("report:\n%s", data)
	}
	if err := run(machine, out, "", []string{filepath.Join(dir, "absent.txt")}); err == nil {
		t.Fatal("a missing input file was not an error")
	}
	if err := run("", out, "", nil); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Fatalf("no arguments: %v, want usage", err)
	}
}
