package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/parkway/parkway/internal/freeport"
)

// --pool-ports bounds where the demo's pools listen; by default outside the kernel's
// ephemeral ports, and a malformed range is refused naming the flag.
func TestDemoPoolPortsFlag(t *testing.T) {
	f, err := parseDemoFlags(nil)
	if err != nil || f.poolPorts != freeport.Default() {
		t.Fatalf("default: %v %v, want %v", f.poolPorts, err, freeport.Default())
	}
	f, err = parseDemoFlags([]string{"--pool-ports", "24000-24099"})
	if err != nil || f.poolPorts != (freeport.Range{Min: 24000, Max: 24099}) {
		t.Fatalf("--pool-ports 24000-24099: %v %v", f.poolPorts, err)
	}
	for _, bad := range []string{"24099-24000", "24000", "x-y"} {
		if _, err := parseDemoFlags([]string{"--pool-ports", bad}); err == nil || !strings.Contains(err.Error(), "--pool-ports") {
			t.Errorf("--pool-ports %q: %v, want a refusal naming the flag", bad, err)
		}
	}
}

// The demo's HTTP port may lie inside the range its pools pick their ports from (a
// script picking a random port, as ../shared/checks does): the gateway binds it before
// the pools pick theirs, so a pool never takes it. Here the range has one port more than
// the two pools need (SIP, park and TLS each), and the HTTP port is one of them: before
// the listener was bound first, the demo failed to start six times in seven.
func TestDemoHTTPPortInsidePoolPorts(t *testing.T) {
	const need = 6 // pool-a and pool-b: SIP, park, TLS
	base := freeRun(t, need+1)
	httpPort := base + rand.IntN(need+1)
	d := startDemoAt(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)),
		"--pool-ports", fmt.Sprintf("%d-%d", base, base+need))
	s, err := d.status()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range s.Pools {
		if _, port, _ := net.SplitHostPort(p.SIPAddr); port == strconv.Itoa(httpPort) {
			t.Errorf("pool %s listens on the HTTP port %d", p.Name, httpPort)
		}
	}
}

// freeRun finds n consecutive ports of freeport.Default() free for UDP and TCP on
// 127.0.0.1 (free when looked at: another process may still take one).
func freeRun(t *testing.T, n int) int {
	t.Helper()
	r := freeport.Default()
	for range 100 {
		base := r.Min + rand.IntN(r.Max-r.Min+1-n)
		free := true
		for p := base; p < base+n && free; p++ {
			free = freeport.Check("127.0.0.1", p) == nil
		}
		if free {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports in %v", n, r)
	return 0
}
