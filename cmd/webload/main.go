// Command webload signs N users in to a Parkway gateway over its HTTP and websocket API,
// as browser tabs do, has each call a target (SIPp answering with its RTP echo in the
// benchmarks) over a pion WebRTC PeerConnection, and measures the echoes of 20 ms G.711
// probes: loss, late round trips, RTT p50/p99. It steps the number of calls up
// (-steps) and prints, per step, the window's edges (for a watcher of the gateway's
// CPU), a Go benchmark line, and at the end a JSON "RESULT" line. SIGINT or SIGTERM
// stop it with the steps measured so far. See package media/webload.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/parkway/parkway/media/webload"
)

func main() {
	var cfg webload.Config
	flag.StringVar(&cfg.Gateway, "gateway", "http://127.0.0.1:8080", "the gateway's base `URL`")
	prefix := flag.String("users", "u", "user names: `prefix` and a 4-digit number from 0 (u0000, u0001, …)")
	first := flag.Int("first-user", 0, "the first user's number")
	flag.StringVar(&cfg.Target, "target", "erin", "whom every user calls")
	steps := flag.String("steps", "10", "concurrent calls per step, rising, comma-separated")
	flag.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "load before each step's measured window")
	flag.DurationVar(&cfg.Duration, "duration", 5*time.Second, "each step's measured window")
	flag.DurationVar(&cfg.Grace, "grace", time.Second, "how long after a window its last echoes may come back")
	flag.DurationVar(&cfg.LateAfter, "late", 200*time.Millisecond, "round trip over which an echo is late")
	keyFile := flag.String("embed-key-file", "", "`file` with the gateway's embed key: sign in with widget tickets; empty: the demo's sign-in by name")
	flag.IntVar(&cfg.Dialers, "dialers", 4, "users signing in and dialing at once")
	flag.Float64Var(&cfg.StopAbove, "stop-above", 0, "stop after a step with this many % lost + late (0: run every step)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to `file`")
	quiet := flag.Bool("quiet", false, "no progress lines on stderr")
	flag.Parse()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "webload:", err)
		os.Exit(1)
	}
	var err error
	if cfg.Steps, err = webload.ParseSteps(*steps); err != nil {
		fail(err)
	}
	if *keyFile != "" {
		key, err := os.ReadFile(*keyFile)
		if err != nil {
			fail(err)
		}
		cfg.EmbedKey = string(bytes.TrimSpace(key))
	}
	for i := range cfg.Steps[len(cfg.Steps)-1] {
		cfg.Users = append(cfg.Users, fmt.Sprintf("%s%04d", *prefix, *first+i))
	}
	cfg.OnWindow = func(calls int, start bool) { fmt.Println(webload.WindowLine(calls, start)) }
	cfg.OnStep = func(st webload.Step) {
		fmt.Println(st.BenchmarkLine(fmt.Sprintf("BenchmarkWebLoad/calls=%d", st.Calls)))
	}
	if !*quiet {
		cfg.Logf = func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "webload: %s %s\n", time.Now().UTC().Format("15:04:05.000"), fmt.Sprintf(format, args...))
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			defer f.Close()
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fail(fmt.Errorf("-cpuprofile: %w", err))
		}
	}
	err = run(cfg)
	pprof.StopCPUProfile()
	if err != nil {
		fail(err)
	}
}

func run(cfg webload.Config) error {
	// SIGINT or SIGTERM stops the load and still reports the steps measured; a second
	// one ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	res, err := webload.Run(ctx, cfg)
	if res != nil {
		j, jerr := json.Marshal(res)
		if jerr != nil {
			return jerr
		}
		fmt.Printf("%s%s\n", webload.ResultPrefix, j)
	}
	if res != nil && res.Stopped {
		fmt.Fprintf(os.Stderr, "webload: stopped by a signal after %d steps\n", len(res.Steps))
	}
	return err
}
