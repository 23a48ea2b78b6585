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
	s := c.waitStatus("pool-a down", func(s dr.Snapshot) bool { return !healthy(s, "pool-a") })
	if p, _ := s.Pool("pool-a"); !strings.Contains(p.Detail, "reconnecting was refused") {
		t.Errorf("pool-a: %+v; want it down by its connection's reset", p)
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
	reconnected := regexp.MustCompile(`msg="dr: pool closed the watch connection; reconnected at once, pool up" .*pool=pool-a `)
	for i := 1; i <= 3; i++ {
		time.Sleep(watchSettled)
		if n := relay.resetTCP(); n == 0 {
			t.Fatalf("drop %d: the gateway holds no TCP connection to pool-a", i)
		}
		waitCount(t, gw, reconnected, i)
	}
	if changes := phaseChanges(gw); len(changes) != 0 {
		t.Errorf("phase changes while pool-a only dropped connections: %v", changes)
	}
	if s := c.waitStatus("status", func(dr.Snapshot) bool { return true }); s.Phase != signaling.PhaseNormal || !healthy(s, "pool-a") {
		t.Errorf("after three drops: %+v", s)
	}
}
