package rtpload

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/media/ngrelay"
)

// TestRunThroughRelayAndDirect plays a few calls through an in-process
// ngrelay server and without a relay: packets flow both ways, in order,
// and the counts add up. Nothing here depends on speed.
func TestRunThroughRelayAndDirect(t *testing.T) {
	srv, err := ngrelay.NewServer(ngrelay.ModeRelay, netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(conn) }()
	defer srv.Close()
	defer conn.Close()
	ng := conn.LocalAddr().(*net.UDPAddr).AddrPort()

	for _, target := range []netip.AddrPort{ng, {}} {
		var edges []bool
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		res, err := Run(ctx, Config{NG: target, Calls: 5, Warmup: 200 * time.Millisecond, Duration: time.Second,
			OnWindow: func(start bool) { edges = append(edges, start) }})
		cancel()
		if err != nil {
			t.Fatalf("relay %v: %v", target, err)
		}
		if res.Sent == 0 || res.Received == 0 || res.Received > res.Sent || res.Lost != res.Sent-res.Received {
			t.Fatalf("relay %v: sent %d, received %d, lost %d", target, res.Sent, res.Received, res.Lost)
		}
		if res.Reordered != 0 || res.SendErrors != 0 {
			t.Fatalf("relay %v: %d reordered, %d send errors", target, res.Reordered, res.SendErrors)
		}
		if len(edges) != 2 || !edges[0] || edges[1] {
			t.Fatalf("window edges %v, want start then end", edges)
		}
		if line := res.BenchmarkLine("BenchmarkX"); !strings.HasPrefix(line, "BenchmarkX\t1\t") || !strings.Contains(line, " loss-%") {
			t.Fatalf("benchmark line %q", line)
		}
	}
	if srv.Calls() != 0 {
		t.Fatalf("%d calls left on the relay after the runs", srv.Calls())
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	for _, c := range []Config{{Calls: 0, Duration: time.Second}, {Calls: 1}} {
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
