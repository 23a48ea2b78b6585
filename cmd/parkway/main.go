// Command parkway is the one Parkway binary: the all-in-one demo, a standalone gateway,
// a standalone pool, and the disaster-recovery admin CLI. It only wires: each subcommand
// lives in its own file, parses flags and config, and calls into the packages that do the
// work.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/parkway/parkway/sip/sipcapture"
)

// subcommands maps a subcommand name to its runner. Each runner owns its flag set.
var subcommands = map[string]func(ctx context.Context, args []string) error{}

const usage = `usage: parkway <command> [flags]

commands:
  demo      pool-a, pool-b and the gateway in one process
  gateway   the edge gateway from a config file
  pool      one SIP pool (registrar, proxy, Call Park) from a config file
  dr        disaster-recovery admin: status | failover | failback
  certs     a CA and certificates for SIP over TLS between gateway and pools
  passwd    a users-file line with a password hashed (HA1) for a realm

Run 'parkway <command> -h' for the flags of a command.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	run, ok := subcommands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "parkway: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	// SIGINT cancels ctx and stops at once; SIGTERM is a drain request a runner can
	// watch with drainSignal, so servers finish what they hold.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[2:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "parkway %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// drainSignal returns a channel that receives once when SIGTERM arrives: the cue to stop
// taking new work and finish what is in hand.
func drainSignal() <-chan os.Signal {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	return ch
}

// stopOnDrain returns a copy of ctx that SIGTERM cancels too, for runners that have
// nothing to drain and stop on SIGTERM as on SIGINT.
func stopOnDrain(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	drain := drainSignal() // registered before returning, so no SIGTERM slips past
	go func() {
		select {
		case <-drain:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// sipCaptureUsage is --sip-capture's help, shared by demo, gateway and pool.
const sipCaptureUsage = "write every SIP message this process sends or receives to this pcap file (Wireshark, sngrep)"

// startSIPCapture starts the capture when path is set, before any SIP stack so none of
// its messages is missed, and returns what stops it; it prints where the capture goes.
func startSIPCapture(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	end, err := sipcapture.Start(path)
	if err != nil {
		return nil, err
	}
	fmt.Printf("SIP capture to %s\n", path)
	return func() {
		if err := end(); err != nil {
			fmt.Fprintf(os.Stderr, "parkway: sip capture: %v\n", err)
		}
	}, nil
}

// newLogger logs text to stderr, at debug level if asked.
func newLogger(debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
