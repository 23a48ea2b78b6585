// Command rtprelay is an RTP relay controlled over rtpengine's ng protocol:
// the media relay benchmarks' process under test (see package
// media/ngrelay). -mode relay runs media.Relay on the shared
// epoll/recvmmsg poller, relay-goroutines the same with a goroutine per
// socket, relay-shared every call on one shared port (media.MuxRelay:
// recvmmsg/sendmmsg over many calls), plain the plain Go forwarder. SIGINT or SIGTERM ends it after
// writing the profiles asked for.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/parkway/parkway/media"
	"github.com/parkway/parkway/media/ngrelay"
)

func main() {
	ngAddr := flag.String("ng", "127.0.0.1:22222", "UDP `address` of the ng control listener")
	mediaAddr := flag.String("media", "127.0.0.1", "`IP` the calls' RTP sockets bind to")
	mode := flag.String("mode", string(ngrelay.ModeRelay), "relay, relay-goroutines, relay-shared or plain")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to `file`")
	memProfile := flag.String("memprofile", "", "write an allocation profile to `file` on exit")
	var shared media.MuxRelayConfig
	flag.DurationVar(&shared.Pace, "pace", 0, "relay-shared: a worker's period: read, send, sleep until this long after it woke (0: media.DefaultMuxPace, negative: no sleep)")
	flag.IntVar(&shared.Sockets, "sockets", 0, "relay-shared: sockets sharing the port (0: GOMAXPROCS)")
	flag.IntVar(&shared.Workers, "workers", 0, "relay-shared: workers reading the sockets (0: one)")
	flag.Parse()
	if err := run(*ngAddr, *mediaAddr, *mode, *cpuProfile, *memProfile, &shared); err != nil {
		fmt.Fprintln(os.Stderr, "rtprelay:", err)
		os.Exit(1)
	}
}

func run(ngAddr, mediaAddr, modeName, cpuProfile, memProfile string, shared *media.MuxRelayConfig) error {
	m, err := ngrelay.ParseMode(modeName)
	if err != nil {
		return err
	}
	ng, err := netip.ParseAddrPort(ngAddr)
	if err != nil {
		return fmt.Errorf("-ng: %w", err)
	}
	ip, err := netip.ParseAddr(mediaAddr)
	if err != nil {
		return fmt.Errorf("-media: %w", err)
	}
	srv, err := ngrelay.NewServerShared(m, ip, shared)
	if err != nil {
		return err
	}
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ng))
	if err != nil {
		return err
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if memProfile != "" {
		runtime.MemProfileRate = 64 * 1024
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		_ = conn.Close()
	}()
	fmt.Printf("rtprelay: %s mode, ng on %v\n", m, ng)
	serveErr := srv.Serve(conn)
	if memProfile != "" {
		f, err := os.Create(memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}
	return errors.Join(serveErr, srv.Close())
}
