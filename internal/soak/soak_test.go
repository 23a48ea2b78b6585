package soak

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadProcSelf(t *testing.T) {
	f, err := os.Open(os.Args[0]) // one more open file than before
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rss, data, threads, fds, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || data <= 0 || threads <= 0 || fds < 4 {
		t.Fatalf("implausible: rss %d KiB, data %d KiB, %d threads, %d fds", rss, data, threads, fds)
	}
	if _, _, _, _, err := ReadProc(1 << 30); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}

func TestCPUAndLoadAvg(t *testing.T) {
	// Burn CPU until getrusage has seen 50 ms of it: /proc then shows some (10 ms ticks).
	start := cpuSelf()
	for x := 0; cpuSelf()-start < 50*time.Millisecond; x++ {
		_ = fmt.Sprint(x)
	}
	if got := CPU(os.Getpid()); got <= 0 || got > cpuSelf()+10*time.Millisecond {
		t.Errorf("CPU(self) = %v, getrusage says %v", got, cpuSelf())
	}
	if got := CPU(1 << 30); got != 0 {
		t.Errorf("CPU of a process that does not exist = %v", got)
	}
	if f := strings.Fields(LoadAvg()); len(f) != 3 {
		t.Errorf("LoadAvg() = %q", LoadAvg())
	}
	if m := Machine(); !strings.Contains(m, "nproc ") || !strings.Contains(m, runtime.Version()) {
		t.Errorf("Machine() = %q", m)
	}
}

func cpuSelf() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestReadMetrics(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "# HELP go_goroutines Number of goroutines.\n# TYPE go_goroutines gauge\ngo_goroutines 42\ngo_memstats_heap_inuse_bytes 1.048576e+06\n")
	}))
	defer srv.Close()
	g, h, err := ReadMetrics(context.Background(), srv.URL+"/metrics")
	if err != nil || g != 42 || h != 1<<20 {
		t.Fatalf("got %d goroutines, %d heap bytes, %v", g, h, err)
	}
	if _, _, err := ReadMetrics(context.Background(), srv.URL+"/nope"); err == nil {
		t.Fatal("no error for an endpoint that is not there")
	}
}

func TestSamplerCSVAndChart(t *testing.T) {
	s := &Sampler{Interval: 10 * time.Millisecond, Targets: []Target{
		{Name: "self", PID: os.Getpid},
		{Name: "gone", PID: func() int { return 0 }},
	}}
	// Until three samples are in, not for a fixed 55 ms: on a loaded machine a 10 ms
	// ticker can fire late, and this test judges what is sampled, not how fast.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan struct{})
	go func() { defer close(ran); s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.Samples()) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-ran
	samples := s.Samples()
	if len(samples) < 3 {
		t.Fatalf("%d samples in 10 s at 10 ms, want at least 3", len(samples))
	}
	for _, smp := range samples {
		if smp.Process != "self" || smp.Goroutines != -1 {
			t.Fatalf("unexpected sample %+v", smp)
		}
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, samples); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") || len(rows) != len(samples)+1 {
		t.Fatalf("csv: header %v, %d rows for %d samples", rows[0], len(rows), len(samples))
	}

	series := SeriesOf(samples, func(s Sample) int64 { return s.FDs })
	var img bytes.Buffer
	if err := (Chart{Title: "open files", Series: series}).WritePNG(&img); err != nil {
		t.Fatal(err)
	}
	decoded, err := png.Decode(&img)
	if err != nil {
		t.Fatal(err)
	}
	if b := decoded.Bounds(); b.Dx() != chartW || b.Dy() != chartH {
		t.Fatalf("chart is %v", b)
	}
	// The series is drawn in its colour.
	want := palette[0]
	found := 0
	for y := marginT; y < chartH-marginB; y++ {
		for x := marginL + 1; x < chartW-marginR-180; x++ {
			r, g, b, _ := decoded.At(x, y).RGBA()
			if uint8(r>>8) == want.R && uint8(g>>8) == want.G && uint8(b>>8) == want.B {
				found++
			}
		}
	}
	if found < 100 {
		t.Fatalf("only %d pixels of the series' colour in the plot area", found)
	}
}

func TestFormatNumber(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 950: "950", 12000: "12K", 1.5e6: "1.5M", 0.25: "0.25", 2.5: "2.5"} {
		if got := formatNumber(v); got != want {
			t.Errorf("formatNumber(%v) = %q, want %q", v, got, want)
		}
	}
	for v, want := range map[float64]float64{0.3: 1, 7: 10, 11: 20, 300: 500, 4500: 5000} {
		if got := niceCeil(v); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", v, got, want)
		}
	}
}
