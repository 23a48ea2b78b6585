// Command rtpload plays N concurrent G.711 calls through an RTP relay set
// up over the ng protocol (cmd/rtprelay or rtpengine) and prints what it
// measured as a Go benchmark line and a JSON "RESULT" line; stopped by SIGINT or
// SIGTERM once the measured window has begun, it reports that part of it
// (Result.Stopped). Without -ng the
// parties send to each other directly: the self-check, which shows what
// the load generator itself adds. See package media/rtpload.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/parkway/parkway/media/rtpload"
)

func main() {
	ng := flag.String("ng", "", "UDP `address` of the relay's ng listener; empty: no relay (the self-check)")
	calls := flag.Int("calls", 100, "concurrent calls (100 packets/s each)")
	warmup := flag.Duration("warmup", 2*time.Second, "load before the measured window")
	duration := flag.Duration("duration", 10*time.Second, "measured window")
	late := flag.Duration("late", 20*time.Millisecond, "how long after its due time a packet may arrive and not be late")
	parties := flag.String("parties", "127.2.0.0/16", "loopback `prefix` the parties' addresses come from (one address each)")
	workers := flag.Int("workers", 0, "send/receive loops and sockets (0: GOMAXPROCS)")
	var cfg rtpload.Config
	flag.DurationVar(&cfg.SendTick, "send-tick", 0, "how often a send loop wakes to send what is due (0: 2 ms)")
	flag.DurationVar(&cfg.ReceivePace, "receive-pace", 0, "a receive loop's wait after a read that did not fill a batch (0: 10 ms)")
	realtime := flag.Bool("realtime", false, "run at the highest normal priority (nice -20, on one CPU when there are more; needs CAP_SYS_NICE) so other work on the machine does not delay the sending")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to `file`")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			defer f.Close()
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "rtpload: -cpuprofile:", err)
			os.Exit(1)
		}
	}
	cfg.Calls, cfg.Warmup, cfg.Duration, cfg.LateAfter, cfg.Workers, cfg.Realtime = *calls, *warmup, *duration, *late, *workers, *realtime
	err := run(*ng, *parties, cfg)
	pprof.StopCPUProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rtpload:", err)
		os.Exit(1)
	}
}

func run(ng, parties string, cfg rtpload.Config) error {
	var err error
	if ng != "" {
		if cfg.NG, err = netip.ParseAddrPort(ng); err != nil {
			return fmt.Errorf("-ng: %w", err)
		}
	}
	if cfg.Parties, err = netip.ParsePrefix(parties); err != nil {
		return fmt.Errorf("-parties: %w", err)
	}
	cfg.OnWindow = func(start bool) {
		if start {
			fmt.Println(rtpload.WindowStart)
		} else {
			fmt.Println(rtpload.WindowEnd)
		}
	}
	// SIGINT or SIGTERM stops the load and still reports the part of the window that
	// ran (Result.Stopped); a second one ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	res, err := rtpload.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if res.Stopped {
		fmt.Fprintf(os.Stderr, "rtpload: stopped by a signal; the result covers the first %.1f s of the window\n", res.Seconds)
	}
	fmt.Println(res.BenchmarkLine(fmt.Sprintf("BenchmarkRTPLoad/calls=%d", cfg.Calls)))
	j, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Printf("%s%s\n", rtpload.ResultPrefix, j)
	return nil
}
