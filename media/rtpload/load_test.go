package rtpload

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parkway/parkway/media/ngrelay"
)

// TestRunThroughRelayAndDirect plays a few calls through an in-process
// ngrelay server (a socket per call, and the shared port) and without a
// relay: every packet due in the window is sent, packets flow both ways,
// in order, to the right party, and the counts add up. Nothing here
// depends on speed.
func TestRunThroughRelayAndDirect(t *testing.T) {
	for _, mode := range []ngrelay.Mode{ngrelay.ModeRelay, ngrelay.ModeRelayShared, ""} {
		var target netip.AddrPort
		var srv *ngrelay.Server
		if mode != "" {
			var err error
			if srv, err = ngrelay.NewServer(mode, netip.MustParseAddr("127.0.0.1")); err != nil {
				t.Fatal(err)
			}
			conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			go func() { _ = srv.Serve(conn) }()
			defer srv.Close()
			defer conn.Close()
			target = conn.LocalAddr().(*net.UDPAddr).AddrPort()
		}
		var edges []bool
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		const calls = 5
		res, err := Run(ctx, Config{NG: target, Calls: calls, Warmup: 200 * time.Millisecond, Duration: time.Second,
			OnWindow: func(start bool) { edges = append(edges, start) }})
		cancel()
		if err != nil {
			t.Fatalf("mode %q: %v", mode, err)
		}
		// 50 packets due in a 1 s window on each of 2×5 streams.
		if want := int64(2 * calls * 50); res.Sent != want {
			t.Fatalf("mode %q: %d packets sent in the window, want %d", mode, res.Sent, want)
		}
		if res.Received == 0 || res.Received > res.Sent || res.Lost != res.Sent-res.Received {
			t.Fatalf("mode %q: sent %d, received %d, lost %d", mode, res.Sent, res.Received, res.Lost)
		}
		if res.Reordered != 0 || res.SendErrors != 0 || res.Misrouted != 0 || res.Duplicates != 0 || res.Malformed != 0 {
			t.Fatalf("mode %q: %+v", mode, res)
		}
		if len(edges) != 2 || !edges[0] || edges[1] {
			t.Fatalf("window edges %v, want start then end", edges)
		}
		if line := res.BenchmarkLine("BenchmarkX"); !strings.HasPrefix(line, "BenchmarkX\t1\t") || !strings.Contains(line, " loss-%") {
			t.Fatalf("benchmark line %q", line)
		}
		if srv != nil && srv.Calls() != 0 {
			t.Fatalf("mode %q: %d calls left on the relay after the run", mode, srv.Calls())
		}
	}
}

// TestRunStoppedReportsWhatRan ends a run's context a little into its
// measured window (what cmd/rtpload does on SIGTERM): Run returns at once
// with the window cut where the sending stopped, and the counts agree with
// that cut — every packet due before it was sent, none due after it counted.
func TestRunStoppedReportsWhatRan(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const window = 30 * time.Second
	res, err := Run(ctx, Config{Calls: 5, Warmup: 200 * time.Millisecond, Duration: window,
		OnWindow: func(start bool) {
			if start {
				time.AfterFunc(300*time.Millisecond, cancel)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Stopped || res.Seconds <= 0 || res.Seconds >= window.Seconds() {
		t.Fatalf("stopped %v after %.2f s of a %v window, want stopped inside it", res.Stopped, res.Seconds, window)
	}
	if res.Sent == 0 || res.Unsent != 0 || res.SendErrors != 0 {
		t.Fatalf("%d packets due before the stop, %d of them unsent, %d send errors: want every one sent", res.Sent, res.Unsent, res.SendErrors)
	}
	if res.Received > res.Sent || res.Misrouted != 0 || res.Duplicates != 0 || res.Malformed != 0 {
		t.Fatalf("counted past the cut or wrongly: %+v", res)
	}

	// Stopped before the window: nothing to report.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := Run(ctx, Config{Calls: 5, Warmup: window, Duration: time.Second}); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped in the warm-up: %v, want context.Canceled", err)
	}
}

// TestRunCountsWhatTheRelayDid plays calls through a faulty relay that,
// of each stream's packets due in the window, drops those numbered 3 mod
// 10, holds back 7 mod 10 by 60 ms, sends 5 mod 10 twice and 9 mod 10
// back to their sender: the load generator must count each fault as what
// it is.
func TestRunCountsWhatTheRelayDid(t *testing.T) {
	const calls = 5
	cfg := Config{Calls: calls, Warmup: 200 * time.Millisecond, Duration: time.Second, Grace: 3 * time.Second}
	// The window in packet numbers: due = k·20 ms + phase, phase < 20 ms.
	first, last := uint32(cfg.Warmup/(20*time.Millisecond)), uint32((cfg.Warmup+cfg.Duration)/(20*time.Millisecond))
	var wg sync.WaitGroup
	var conns []*net.UDPConn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
		wg.Wait()
	}()
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		return c
	}
	// forward relays what arrives on in to peer, from out; back is
	// where a misrouted packet goes (its sender).
	forward := func(in, out *net.UDPConn, peer, back netip.AddrPort) {
		defer wg.Done()
		buf := make([]byte, 1500)
		for {
			n, _, err := in.ReadFromUDPAddrPort(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil || n < packetLen {
				continue
			}
			pkt := append([]byte(nil), buf[:n]...)
			k := be.Uint32(pkt[offNumber:])
			fault := k%10 + 10 // none
			if k >= first && k < last {
				fault = k % 10
			}
			switch fault {
			case 3:
			case 7:
				wg.Add(1)
				time.AfterFunc(60*time.Millisecond, func() {
					defer wg.Done()
					_, _ = out.WriteToUDPAddrPort(pkt, peer)
				})
			case 5:
				_, _ = out.WriteToUDPAddrPort(pkt, peer)
				_, _ = out.WriteToUDPAddrPort(pkt, peer)
			case 9:
				_, _ = out.WriteToUDPAddrPort(pkt, back)
			default:
				_, _ = out.WriteToUDPAddrPort(pkt, peer)
			}
		}
	}
	cfg.route = func(_ int, caller, callee netip.AddrPort) (netip.AddrPort, netip.AddrPort, error) {
		a, b := listen(), listen() // a faces the caller, b the callee
		wg.Add(2)
		go forward(a, b, callee, caller)
		go forward(b, a, caller, callee)
		return a.LocalAddr().(*net.UDPAddr).AddrPort(), b.LocalAddr().(*net.UDPAddr).AddrPort(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	streams := int64(2 * calls)
	perFault := streams * int64(last-first) / 10 // 5 of each stream's 50
	if res.Sent != streams*int64(last-first) {
		t.Fatalf("sent %d in the window, want %d", res.Sent, streams*int64(last-first))
	}
	if res.Misrouted != perFault || res.Duplicates != perFault {
		t.Errorf("misrouted %d, duplicates %d; the relay misrouted and duplicated %d each", res.Misrouted, res.Duplicates, perFault)
	}
	// Dropped and misrouted packets never reached their receiver; a
	// machine stalled past the grace period may lose more, never fewer.
	if res.Lost < 2*perFault || res.Lost != res.Sent-res.Received {
		t.Errorf("lost %d of %d sent (received %d); the relay kept back %d", res.Lost, res.Sent, res.Received, 2*perFault)
	}
	if res.Late < perFault {
		t.Errorf("%d late; the relay held %d back by 60 ms", res.Late, perFault)
	}
	if res.Malformed != 0 || res.SendErrors != 0 || res.ReceiveDrops != 0 {
		t.Errorf("malformed %d, send errors %d, receive drops %d", res.Malformed, res.SendErrors, res.ReceiveDrops)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	for _, c := range []Config{
		{Calls: 0, Duration: time.Second},
		{Calls: 1},
		{Calls: 1, Duration: time.Second, Parties: netip.MustParsePrefix("10.2.0.0/16")},
		{Calls: 1, Duration: time.Second, Parties: netip.MustParsePrefix("::1/128")},
		{Calls: 2, Duration: time.Second, Parties: netip.MustParsePrefix("127.2.0.0/30")}, // 2 usable addresses for 4 parties
	} {
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	// A relay that does not answer is an error, not a hang.
	dead, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := dead.LocalAddr().(*net.UDPAddr).AddrPort()
	dead.Close()
	if _, err := Run(context.Background(), Config{NG: addr, Calls: 1, Duration: time.Second}); err == nil || !strings.Contains(err.Error(), "ping") {
		t.Fatalf("a dead relay gave %v", err)
	}
}

func TestPartyAddrsSkipNetworkAndBroadcastBytes(t *testing.T) {
	addrs, err := partyAddrs(netip.MustParsePrefix("127.2.0.0/16"), 300)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Addr]bool{}
	for _, a := range addrs {
		if b := a.As4(); b[3] == 0 || b[3] == 255 || seen[a] {
			t.Fatalf("address %v (repeated: %v)", a, seen[a])
		}
		seen[a] = true
	}
	if addrs[0] != netip.MustParseAddr("127.2.0.1") || addrs[254] != netip.MustParseAddr("127.2.1.1") {
		t.Fatalf("addresses start %v, %v", addrs[0], addrs[254])
	}
}

// TestPacketPathDoesNotAllocate: stamping a packet and recording one
// that arrived cost no allocation, so the generator's cost stays flat
// per packet.
func TestPacketPathDoesNotAllocate(t *testing.T) {
	r := &run{cfg: Config{Calls: 1, Duration: 10 * time.Second, Interval: 20 * time.Millisecond, LateAfter: 20 * time.Millisecond}}
	r.hist.init()
	r.lag.init()
	addrs, err := partyAddrs(netip.MustParsePrefix("127.2.0.0/16"), 2)
	if err != nil {
		t.Fatal(err)
	}
	r.makeParties(addrs, 5004)
	r.winEnd = r.cfg.Duration
	p := r.parties[0]
	var c counts
	allocs := testing.AllocsPerRun(200, func() {
		r.stamp(p, 0)
		r.arrived(p.buf[:], r.parties[1].addr.Addr(), r.startWall+int64(p.next)*int64(20*time.Millisecond), &c)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per packet", allocs)
	}
	if c.recv == 0 || c.bad != 0 {
		t.Fatalf("counted %+v", c)
	}
}
