package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	rdebug "runtime/debug"

	"github.com/parkway/parkway/metrics"
	"github.com/parkway/parkway/pool"
)

func init() { subcommands["pool"] = runPool }

// runPool runs one pool from a YAML config file: SIGTERM drains it (exit once parked
// calls are done), SIGINT stops it at once.
func runPool(ctx context.Context, args []string) (err error) {
	fs := flag.NewFlagSet("pool", flag.ContinueOnError)
	path := fs.String("config", "", "pool config file (YAML), e.g. configs/pool-a.yaml")
	debug := fs.Bool("debug", false, "log SIP handling at debug level")
	capture := fs.String("sip-capture", "", sipCaptureUsage)
	cpuProfile := fs.String("cpuprofile", "", cpuProfileUsage)
	memProfile := fs.String("memprofile", "", memProfileUsage)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		fs.Usage()
		return errors.New("--config is required")
	}
	if os.Getenv("GOGC") == "" {
		// A pool's live heap is small and nearly all it allocates is garbage of one SIP
		// message: collecting at 4× the live heap instead of 2× cuts the collector's
		// share of the CPU under load by about two thirds (pool/BENCHMARKS.md). GOGC in
		// the environment still decides.
		rdebug.SetGCPercent(400)
	}
	stopProfiles, err := startProfiles(*cpuProfile, *memProfile)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stopProfiles()) }()
	data, err := os.ReadFile(*path)
	if err != nil {
		return err
	}
	cfg, err := pool.ParseConfig(data, filepath.Dir(*path))
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	// Listen for SIGTERM before the pool answers anything: a supervisor that sends it the
	// moment the pool is up must get a drain, not the default exit.
	drain := drainSignal()
	stopCapture, err := startSIPCapture(*capture)
	if err != nil {
		return err
	}
	defer stopCapture()
	log := newLogger(*debug)
	slog.SetDefault(log) // sipgo logs a few things through the default logger
	p, err := pool.New(cfg, pool.Options{Logger: log, Metrics: metrics.NewPool(cfg.Name, true)})
	if err != nil {
		return err
	}
	// The operations endpoints outlive the SIP listeners until the process exits, so a
	// probe sees /readyz turn 503 during the drain.
	opsCtx, stopOps := context.WithCancel(context.WithoutCancel(ctx))
	defer stopOps()
	opsAddr, _, err := p.ServeOps(opsCtx)
	if err != nil {
		return fmt.Errorf("http %s: %w", cfg.HTTP, err)
	}
	if err := p.Start(ctx); err != nil {
		return err
	}
	if tlsAddr := p.TLSAddr(); tlsAddr != "" {
		fmt.Printf("pool %s listening on %s (udp+tcp) and %s (tls), park service on %s\n", p.Name(), p.Addr(), tlsAddr, p.ParkAddr())
	} else {
		fmt.Printf("pool %s listening on %s (udp+tcp), park service on %s\n", p.Name(), p.Addr(), p.ParkAddr())
	}
	if opsAddr != "" {
		fmt.Printf("pool %s operations on http://%s (/metrics, /healthz, /readyz)\n", p.Name(), opsAddr)
	}
	select {
	case <-ctx.Done():
		return p.Stop()
	case <-drain:
	}
	p.Drain()
	select {
	case <-ctx.Done():
	case <-p.Drained():
	}
	return p.Stop()
}
