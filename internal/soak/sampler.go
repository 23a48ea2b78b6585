package soak

import (
	"context"
	"encoding/csv"
	"io"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Target is a process to watch: PID says which process it is now (a restarted pool is
// a new process under the same name; 0 means none right now), Metrics, if set, where
// it serves Prometheus /metrics.
type Target struct {
	Name    string
	PID     func() int
	Metrics string
}

// Sampler samples its targets every Interval until its context ends.
type Sampler struct {
	Targets  []Target
	Interval time.Duration

	mu      sync.Mutex
	samples []Sample
	noMetr  map[string]string // target → why its /metrics could not be read
}

// Run samples at once and then every Interval until ctx ends.
func (s *Sampler) Run(ctx context.Context) {
	start := time.Now()
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		s.sampleAll(ctx, time.Since(start))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Sampler) sampleAll(ctx context.Context, at time.Duration) {
	for _, tg := range s.Targets {
		pid := tg.PID()
		if pid == 0 {
			continue
		}
		rss, data, threads, fds, err := ReadProc(pid)
		if err != nil {
			continue // it is between a kill and its restart
		}
		smp := Sample{At: at, Process: tg.Name, PID: pid, RSSKiB: rss, DataKiB: data, Threads: threads, FDs: fds, Goroutines: -1, HeapBytes: -1}
		if tg.Metrics != "" {
			if g, h, err := ReadMetrics(ctx, tg.Metrics); err == nil {
				smp.Goroutines, smp.HeapBytes = g, h
			} else {
				s.noteNoMetrics(tg.Name, err.Error())
			}
		}
		s.mu.Lock()
		s.samples = append(s.samples, smp)
		s.mu.Unlock()
	}
}

func (s *Sampler) noteNoMetrics(name, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.noMetr == nil {
		s.noMetr = map[string]string{}
	}
	s.noMetr[name] = why
}

// NoMetrics says, per target with a Metrics URL, why it could not be read (last error).
func (s *Sampler) NoMetrics() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for k, v := range s.noMetr {
		out[k] = v
	}
	return out
}

// Samples returns every sample so far, in time order.
func (s *Sampler) Samples() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]Sample(nil), s.samples...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}

// CSVHeader is the first line WriteCSV writes.
var CSVHeader = []string{"seconds", "process", "pid", "rss_kib", "vmdata_kib", "threads", "open_fds", "goroutines", "heap_inuse_bytes"}

// WriteCSV writes samples with CSVHeader; -1 marks a value the process did not serve.
func WriteCSV(w io.Writer, samples []Sample) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, s := range samples {
		i := func(n int64) string { return strconv.FormatInt(n, 10) }
		if err := cw.Write([]string{
			strconv.FormatFloat(s.At.Seconds(), 'f', 1, 64), s.Process, strconv.Itoa(s.PID),
			i(s.RSSKiB), i(s.DataKiB), i(s.Threads), i(s.FDs), i(s.Goroutines), i(s.HeapBytes),
		}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Series is one line of a chart: points (seconds, value) of one process.
type Series struct {
	Name   string
	Points [][2]float64
}

// SeriesOf picks one value from samples, one series per process in first-seen order,
// leaving out samples where value is negative (not served).
func SeriesOf(samples []Sample, value func(Sample) int64) []Series {
	var out []Series
	index := map[string]int{}
	for _, s := range samples {
		v := value(s)
		if v < 0 {
			continue
		}
		i, ok := index[s.Process]
		if !ok {
			i = len(out)
			index[s.Process] = i
			out = append(out, Series{Name: s.Process})
		}
		out[i].Points = append(out[i].Points, [2]float64{s.At.Seconds(), float64(v)})
	}
	return out
}
