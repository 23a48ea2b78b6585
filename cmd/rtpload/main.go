// Command rtpload plays N concurrent G.711 calls through an RTP relay set
// up over the ng protocol (cmd/rtprelay or rtpengine) and prints what it
// measured as a Go benchmark line and a JSON "RESULT" line. Without -ng the
// parties send to each other directly (the latency floor). See package
// media/rtpload.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"time"

	"github.com/parkway/parkway/media/rtpload"
)

func main() {
	ng := flag.String("ng", "", "UDP `address` of the relay's ng listener; empty: no relay")
	calls := flag.Int("calls", 100, "concurrent calls (100 packets/s each)")
	warmup := flag.Duration("warmup", 2*time.Second, "load before the measured window")
	duration := flag.Duration("duration", 10*time.Second, "measured window")
	late := flag.Duration("late", 20*time.Millisecond, "one-way latency past which a packet is late")
	addr := flag.String("addr", "127.0.0.1", "`IP` the parties' sockets bind to")
	flag.Parse()
	if err := run(*ng, *addr, *calls, *warmup, *duration, *late); err != nil {
		fmt.Fprintln(os.Stderr, "rtpload:", err)
		os.Exit(1)
	}
}

func run(ng, addr string, calls int, warmup, duration, late time.Duration) error {
	cfg := rtpload.Config{Calls: calls, Warmup: warmup, Duration: duration, LateAfter: late}
	var err error
	if ng != "" {
		if cfg.NG, err = netip.ParseAddrPort(ng); err != nil {
			return fmt.Errorf("-ng: %w", err)
		}
	}
	if cfg.Addr, err = netip.ParseAddr(addr); err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	cfg.OnWindow = func(start bool) {
		if start {
			fmt.Println(rtpload.WindowStart)
		} else {
			fmt.Println(rtpload.WindowEnd)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := rtpload.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Println(res.BenchmarkLine(fmt.Sprintf("BenchmarkRTPLoad/calls=%d", calls)))
	j, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Printf("%s%s\n", rtpload.ResultPrefix, j)
	return nil
}
