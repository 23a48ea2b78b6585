package benchreport

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Results are the numbers of one bench-anchors run, and why some are missing.
type Results struct {
	// Metrics by benchmark name (no -GOMAXPROCS suffix) and unit. A benchmark reported
	// more than once keeps its last line.
	Metrics map[string]map[string]float64
	// NotMeasured says, by benchmark name, why it has no numbers (skipped, failed, or a
	// step the task could not run).
	NotMeasured map[string]string
	// Text is what a run said in words that a table cannot hold, by key: "cold-cpu-by-task",
	// "warm-cpu-by-task" (the load spec's traced main-thread CPU by what it ran).
	Text map[string]string
}

// NewResults is an empty set of results.
func NewResults() *Results {
	return &Results{Metrics: map[string]map[string]float64{}, NotMeasured: map[string]string{}, Text: map[string]string{}}
}

var (
	// BenchmarkName-2   300   123456 ns/op   75.0 cycles/s ...
	benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.*)$`)
	// --- SKIP: BenchmarkName (0.00s) / --- FAIL: ...
	verdictLine = regexp.MustCompile(`^\s*--- (SKIP|FAIL): (Benchmark\S+?)(?:-\d+)?(?:\s|$)`)
	// BenchmarkName alone on its line: go test -v names a benchmark before its logs
	headerLine = regexp.MustCompile(`^Benchmark\S+$`)
	// NOT MEASURED BenchmarkName: reason
	notMeasuredLine = regexp.MustCompile(`^NOT MEASURED (\S+): (.*)$`)
	// the message line under a SKIP/FAIL: "    file_test.go:12: why"
	messageLine = regexp.MustCompile(`^\s+(?:\S+\.go:\d+: )?(.*\S)`)
	// the Playwright load spec's console lines (playwright/tests/load.spec.ts)
	loadLine = regexp.MustCompile(`^page load → .*\((cold|warm)[^)]*\): median (\d+(?:\.\d+)?) ms`)
	// The same loads' CPU time to ready (load.spec.ts), which the machine's load
	// disturbs less than the wall clock.
	loadCPULine = regexp.MustCompile(`^CPU time to ready \((cold|warm)[^)]*\): main thread median (\d+) ms, renderer median (\d+) ms`)
	// The traced loads' main-thread CPU by what it ran (load.spec.ts, PARKWAY_LOAD_TRACE=1).
	loadTaskLine = regexp.MustCompile(`^main-thread CPU to ready by what it ran \((cold|warm|reload)[^)]*\): (.*)$`)
	wasmLine     = regexp.MustCompile(`^main\.wasm: (\d+) bytes raw; served .*Content-Length (\d+)`)
	loadBench    = "PlaywrightLoad"
)

// Parse reads one file of benchmark output into r. A non-empty sub is appended to every
// benchmark name read (as "/"+sub) that does not already end in it: the task runs the park
// benchmarks once per offered rate and names each run's output rate=<n>.
func (r *Results) Parse(in io.Reader, sub string) error {
	name := func(n string) string {
		if sub == "" || strings.HasSuffix(n, "/"+sub) {
			return n
		}
		return n + "/" + sub
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	pending := "" // a SKIP/FAIL benchmark whose reason is on the next line (go test without -v)
	// With -v a benchmark's log lines follow its bare name and come before its verdict;
	// the first that says what went wrong (else the first) is kept as the reason.
	running, reason, telling := "", "", false
	for sc.Scan() {
		line := sc.Text()
		msg := messageLine.FindStringSubmatch(line)
		if pending != "" {
			if msg != nil && !strings.HasPrefix(strings.TrimSpace(line), "---") {
				r.NotMeasured[pending] += ": " + msg[1]
			}
			pending = ""
		}
		if msg != nil && running != "" && !telling {
			if reason == "" || saysWhatWentWrong(msg[1]) {
				reason, telling = msg[1], saysWhatWentWrong(msg[1])
			}
		}
		switch {
		case headerLine.MatchString(line):
			running, reason, telling = name(line), "", false
		case benchLine.MatchString(line):
			m := benchLine.FindStringSubmatch(line)
			metrics, err := parseMetrics(m[3])
			if err != nil {
				return fmt.Errorf("%q: %w", line, err)
			}
			n := name(m[1])
			r.Metrics[n] = metrics
			delete(r.NotMeasured, n)
		case verdictLine.MatchString(line):
			m := verdictLine.FindStringSubmatch(line)
			n := name(m[2])
			if _, measured := r.Metrics[n]; !measured {
				r.NotMeasured[n] = "skipped"
				if m[1] == "FAIL" {
					r.NotMeasured[n] = "failed"
				}
				if n == running && reason != "" {
					r.NotMeasured[n] += ": " + reason
				} else {
					pending = n
				}
			}
		case notMeasuredLine.MatchString(line):
			m := notMeasuredLine.FindStringSubmatch(line)
			n := name(m[1])
			if _, measured := r.Metrics[n]; !measured {
				r.NotMeasured[n] = m[2]
			}
		case loadLine.MatchString(line):
			m := loadLine.FindStringSubmatch(line)
			v, _ := strconv.ParseFloat(m[2], 64)
			r.set(loadBench, m[1]+"-ready-ms", v)
			for step, at := range loadSteps(line) {
				r.set(loadBench, m[1]+"-"+step+"-ms", at)
			}
		case loadCPULine.MatchString(line):
			m := loadCPULine.FindStringSubmatch(line)
			thread, _ := strconv.ParseFloat(m[2], 64)
			renderer, _ := strconv.ParseFloat(m[3], 64)
			r.set(loadBench, m[1]+"-main-thread-cpu-ms", thread)
			r.set(loadBench, m[1]+"-renderer-cpu-ms", renderer)
		case loadTaskLine.MatchString(line):
			m := loadTaskLine.FindStringSubmatch(line)
			r.Text[m[1]+"-cpu-by-task"] = m[2]
		case wasmLine.MatchString(line):
			m := wasmLine.FindStringSubmatch(line)
			raw, _ := strconv.ParseFloat(m[1], 64)
			served, _ := strconv.ParseFloat(m[2], 64)
			r.set(loadBench, "raw-bytes", raw)
			r.set(loadBench, "served-bytes", served)
		}
	}
	return sc.Err()
}

var (
	loadRun  = regexp.MustCompile(`\[([^\]]*)\]`)
	loadStep = regexp.MustCompile(`^([a-z][a-z -]*?) (?:[^→]*→)?([0-9]+(?:\.[0-9]+)?)$`)
)

// loadSteps are the medians, over a load line's runs, of when each step of a page load
// happened ("compiled 274, wasm running 300, sign-in 122/314→351, …": ms from
// navigation; for the sign-in, when the program had its answer), keyed "compiled",
// "wasm-running", "sign-in", … .
func loadSteps(line string) map[string]float64 {
	runs := map[string][]float64{}
	for _, run := range loadRun.FindAllStringSubmatch(line, -1) {
		for _, item := range strings.Split(run[1], ", ") {
			if m := loadStep.FindStringSubmatch(strings.TrimSpace(item)); m != nil {
				v, _ := strconv.ParseFloat(m[2], 64)
				key := strings.ReplaceAll(m[1], " ", "-")
				runs[key] = append(runs[key], v)
			}
		}
	}
	out := map[string]float64{}
	for k, vs := range runs {
		out[k] = median(vs)
	}
	return out
}

// median of vs (the upper middle one of an even count, as load.spec.ts takes it).
func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	return s[len(s)/2]
}

// saysWhatWentWrong tells a log line that explains a failure from one that merely informs.
func saysWhatWentWrong(s string) bool {
	s = strings.ToLower(s)
	for _, w := range []string{"fail", "error", "timeout", "timed out", "not found", "refused", "did not"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

func (r *Results) set(bench, metric string, v float64) {
	if r.Metrics[bench] == nil {
		r.Metrics[bench] = map[string]float64{}
	}
	r.Metrics[bench][metric] = v
	delete(r.NotMeasured, bench)
}

// parseMetrics reads "value unit" pairs.
func parseMetrics(s string) (map[string]float64, error) {
	f := strings.Fields(s)
	if len(f)%2 != 0 {
		return nil, fmt.Errorf("metrics are not value-unit pairs")
	}
	m := make(map[string]float64, len(f)/2)
	for i := 0; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", f[i+1], err)
		}
		m[f[i+1]] = v
	}
	return m, nil
}

// Lookup is the number ref names, or why it is missing.
func (r *Results) Lookup(ref Ref) (float64, string) {
	if m, ok := r.Metrics[ref.Bench]; ok {
		if v, ok := m[ref.Metric]; ok {
			return v, ""
		}
		return 0, "no " + ref.Metric + " in " + ref.Bench
	}
	// The reason of the benchmark itself, else of its parent (a failed parent has no
	// sub-benchmark lines).
	for b := ref.Bench; b != ""; {
		if why, ok := r.NotMeasured[b]; ok {
			return 0, why
		}
		i := strings.LastIndexByte(b, '/')
		if i < 0 {
			break
		}
		b = b[:i]
	}
	return 0, "no output of " + ref.Bench
}
