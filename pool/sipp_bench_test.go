package pool

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SIPp-driven measurements against a real `parkway pool` process. They report throughput
// and the CPU the pool process used (user+system, from /proc), never pass/fail on time.
//
//	go test ./pool -run '^$' -bench SIPpRegister -benchtime 5000x
//	go test ./pool -run '^$' -bench SIPpParkRetrieve -benchtime 1x -outputdir /tmp/bench
//
// BenchmarkSIPpParkRetrieve lives in sipp_park_bench_test.go.

// cpuTime is the user+system CPU the process pid has used.
func cpuTime(tb testing.TB, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatalf("read cpu time: %v", err)
	}
	// Fields after the command name (which is in parentheses and may hold spaces).
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clkTck
}

func BenchmarkSIPpRegister(b *testing.B) {
	bin := requireSIPp(b)
	pp := startPoolProcess(b, "7000-7099")
	dir := b.TempDir()
	inf := injection(b, dir, "reg", "pool-a", "127.0.0.1:5999", "300")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cpu0 := cpuTime(b, pp.cmd.Process.Pid)
	b.ResetTimer()
	start := time.Now()
	// Up to 200 registrations in flight, offered as fast as SIPp can: the pool's
	// throughput is the limit. Each registration is two transactions (401, then 200).
	startSIPp(b, bin, "register load", "register.xml", pp.addr, freePort(b),
		"-inf", inf, "-s", "alice", "-au", "alice", "-ap", "alice-demo",
		"-m", strconv.Itoa(b.N), "-r", "20000", "-l", "200").wait(b, ctx)
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := cpuTime(b, pp.cmd.Process.Pid) - cpu0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "reg/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "pool-cpu-µs/reg")
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds()*100, "pool-cpu-%")
}
