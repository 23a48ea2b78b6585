package soak

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Sample is one look at one process.
type Sample struct {
	At      time.Duration // since the sampler started
	Process string
	PID     int
	RSSKiB  int64 // VmRSS: resident memory
	DataKiB int64 // VmData: the data segment, where a Go heap lives
	Threads int64
	FDs     int64 // open file descriptors (sockets included)
	// Goroutines and HeapBytes come from the process's /metrics (go_goroutines,
	// go_memstats_heap_inuse_bytes); -1 when it serves none.
	Goroutines int64
	HeapBytes  int64
}

// ReadProc reads pid's memory, threads and open files from /proc.
func ReadProc(pid int) (rssKiB, dataKiB, threads, fds int64, err error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch name {
		case "VmRSS":
			rssKiB = n
		case "VmData":
			dataKiB = n
		case "Threads":
			threads = n
		}
	}
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, 0, 0, 0, err
	}
	return rssKiB, dataKiB, threads, int64(len(entries)), nil
}

// CPU is the user + system CPU time process pid has used so far, all its threads (0 when
// it cannot be read); /proc counts it in USER_HZ ticks, 10 ms.
func CPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command, which may hold spaces, in parentheses.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // utime, field 14
	st, _ := strconv.ParseInt(f[12], 10, 64) // stime, field 15
	return time.Duration(ut+st) * (time.Second / 100)
}

// LoadAvg is the machine's load average over 1, 5 and 15 minutes, as /proc/loadavg
// gives it ("?" when it cannot be read).
func LoadAvg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// Machine says what numbers are measured on: the kernel (uname -srvmo), the CPUs Go
// sees, the CPU model, the Go version and the load average now.
func Machine() string {
	uname, _ := exec.Command("uname", "-srvmo").Output()
	model := ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if name, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s; nproc %d; CPU %q; %s; load average %s", strings.TrimSpace(string(uname)), runtime.NumCPU(), model, runtime.Version(), LoadAvg())
}

// ReadMetrics fetches a Prometheus text exposition from url and returns go_goroutines
// and go_memstats_heap_inuse_bytes, or an error when it is not served (no such
// endpoint, or neither value in it).
func ReadMetrics(ctx context.Context, url string) (goroutines, heapBytes int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("%s: %s", url, res.Status)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return 0, 0, err
	}
	goroutines, heapBytes = -1, -1
	for _, line := range strings.Split(string(body), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_goroutines":
			goroutines = int64(f)
		case "go_memstats_heap_inuse_bytes":
			heapBytes = int64(f)
		}
	}
	if goroutines < 0 && heapBytes < 0 {
		return 0, 0, fmt.Errorf("%s has neither go_goroutines nor go_memstats_heap_inuse_bytes", url)
	}
	return goroutines, heapBytes, nil
}
