package pool

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SIPp-driven measurements against a real `parkway pool` process. They report throughput
// and the CPU the pool process used (user+system, from /proc), never pass/fail on time.
//
//	go test ./pool -run '^$' -bench SIPpRegister -benchtime 5000x
//	go test ./pool -run '^$' -bench SIPpParkRetrieve -benchtime 300x   # PARKWAY_BENCH_RATE=cycles/s offered

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

func BenchmarkSIPpParkRetrieve(b *testing.B) {
	bin := requireSIPp(b)
	// A large orbit range so every cycle parks on its own orbit (directed park).
	pp := startPoolProcess(b, "100000-199999")
	rate := 50
	if v, err := strconv.Atoi(os.Getenv("PARKWAY_BENCH_RATE")); err == nil && v > 0 {
		rate = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dir := b.TempDir()
	alicePort, bobPort, carolPhonePort, carolPort := freePort(b), freePort(b), freePort(b), freePort(b)
	for _, r := range []struct {
		user string
		port int
	}{{"alice", alicePort}, {"bob", bobPort}, {"carol", carolPhonePort}} {
		inf := injection(b, dir, "reg-"+r.user, "pool-a", "127.0.0.1:"+strconv.Itoa(r.port), "3600")
		startSIPp(b, bin, "register "+r.user, "register.xml", pp.addr, freePort(b),
			"-inf", inf, "-s", r.user, "-au", r.user, "-ap", r.user+"-demo", "-m", "1").wait(b, ctx)
	}
	// One injection line per cycle: cycle i parks on and retrieves orbit 100000+i.
	poolHost, poolPort, _ := net.SplitHostPort(pp.addr)
	var lines strings.Builder
	lines.WriteString("SEQUENTIAL\n")
	for i := 0; i < b.N; i++ {
		orbit := strconv.Itoa(100000 + i)
		fmt.Fprintf(&lines, "pool-a;127.0.0.1:%d;3600;%s;%s;%s;%s;\n", carolPhonePort, orbit, poolHost, poolPort, orbit)
	}
	inf := filepath.Join(dir, "cycles.csv")
	if err := os.WriteFile(inf, []byte(lines.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	n, r := strconv.Itoa(b.N), strconv.Itoa(rate)
	cpu0 := cpuTime(b, pp.cmd.Process.Pid)
	b.ResetTimer()
	start := time.Now()
	bob := startSIPp(b, bin, "bob (parked)", "parked.xml", pp.addr, bobPort, "-inf", inf, "-m", n)
	carolPhone := startSIPp(b, bin, "carol's phone", "answerer.xml", pp.addr, carolPhonePort, "-inf", inf, "-m", n)
	time.Sleep(200 * time.Millisecond)
	alice := startSIPp(b, bin, "alice (parker)", "parker.xml", pp.addr, alicePort, "-inf", inf, "-m", n, "-r", r)
	// Retrieves start two seconds behind the parks, at the same rate.
	time.Sleep(2 * time.Second)
	carol := startSIPp(b, bin, "carol (retriever)", "retriever.xml", pp.addr, carolPort, "-inf", inf, "-m", n, "-r", r)
	alice.wait(b, ctx)
	carol.wait(b, ctx)
	bob.wait(b, ctx)
	carolPhone.wait(b, ctx)
	elapsed := time.Since(start) - 2*time.Second
	b.StopTimer()
	cpu := cpuTime(b, pp.cmd.Process.Pid) - cpu0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "cycles/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N)/1000, "pool-cpu-ms/cycle")
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds()*100, "pool-cpu-%")
}
