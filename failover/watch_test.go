package failover

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/signaling"
)

// The gateway's connection watch (gateway/dr/connwatch.go, issue 12 item 6): a TCP/TLS
// connection held to each pool, whose end followed by a refused reconnection marks the
// pool down at once, while a pool that only dropped the connection is reconnected to.

// watchSettled is longer than the watch's stableConn (500 ms): a watch connection this
// old is armed, its end taken as news about the pool.
const watchSettled = time.Second

// TestKilledPoolDownByConnection: pool-a SIGKILLed is an outage pushed to the tab
// through the watch connection's reset — with so many probe misses needed (a million)
// that the probes cannot have done it — and the pool's detail says why.
func TestKilledPoolDownByConnection(t *testing.T) {
	parallel(t)
	c := startCluster(t, clusterOptions{gatewayYAML: "probe: {interval: 250ms, timeout: 250ms, misses: 1000000}\n"})
	alice := c.phone("alice")
	time.Sleep(watchSettled)
	c.kill("pool-a")
	if _, err := alice.WaitPushed(step(t), func(s signaling.State) bool { return s.Phase != signaling.PhaseNormal }); err != nil {
		t.Fatalf("no outage pushed after pool-a was killed: %v", err)
	}
	// The first "pool down" says why; the status's detail moves on with each probe missed.
	line := c.procs["gateway"].waitLine(t, regexp.MustCompile(`msg="dr: pool down" .*pool=pool-a .*`))
	if !strings.Contains(line, "reconnecting was refused") {
		t.Errorf("pool-a went down with %q; want it down by its connection's reset", line)
	}
}

// TestDroppedPoolConnectionNoOutage: the gateway's connection to pool-a is reset three
// times while pool-a goes on serving (a TCP relay in between resets it): the gateway
// reconnects each time and the phase never leaves normal.
func TestDroppedPoolConnectionNoOutage(t *testing.T) {
	parallel(t)
	var relay *jitterRelay
	c := startCluster(t, clusterOptions{plainUDP: true, poolAddr: func(pool string, port int) string {
		if pool != "pool-a" {
			return fmt.Sprintf("127.0.0.1:%d", port)
		}
		relay = startJitterRelay(t, port, 0)
		return relay.Addr()
	}})
	gw := c.procs["gateway"]
	gw.out.mark()
	// Each drop is noticed: reconnected at once, or — on a machine so loaded that the
	// reconnection outlasts the probe timeout — left to the probes, which find pool-a up.
	noticed := regexp.MustCompile(`msg="dr: pool closed the watch connection.*pool=pool-a `)
	for i := 1; i <= 3; i++ {
		deadline := time.Now().Add(wait)
		for relay.tcpClients() != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("drop %d: the gateway has %d TCP connections to pool-a, want its watch connection", i, relay.tcpClients())
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(watchSettled)
		relay.resetTCP()
		waitCount(t, gw, noticed, i)
	}
	if changes := phaseChanges(gw); len(changes) != 0 {
		t.Errorf("phase changes while pool-a only dropped connections: %v", changes)
	}
	if s := c.waitStatus("status", func(dr.Snapshot) bool { return true }); s.Phase != signaling.PhaseNormal || !healthy(s, "pool-a") {
		t.Errorf("after three drops: %+v", s)
	}
}
