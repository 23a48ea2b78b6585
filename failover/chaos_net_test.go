package failover

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/signaling"
)

// needOwnNetns skips a test that changes the firewall unless it runs as root inside the
// loopback-only network namespace of scripts/loopback-only.sh, whose nftables ruleset
// belongs to the test run alone — never the machine's.
func needOwnNetns(t *testing.T) {
	t.Helper()
	if os.Getenv("PARKWAY_NETNS") != "1" || os.Geteuid() != 0 {
		t.Skip("adds nftables rules: runs only as root inside scripts/loopback-only.sh's network namespace")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft (nftables): " + err.Error())
	}
}

var nftTables sync.Map // names in use in this process

// dropTo drops percent of the UDP datagrams sent to each of ports, in a table of its own
// (removed when the test ends), and returns a function that reads how many it dropped.
func dropTo(t *testing.T, percent int, ports ...int) (dropped func() string) {
	t.Helper()
	table := fmt.Sprintf("parkway_chaos_%d_%d", os.Getpid(), ports[0])
	if _, dup := nftTables.LoadOrStore(table, true); dup {
		t.Fatalf("nft table %s already in use", table)
	}
	nft := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("nft", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("nft %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	nft("add", "table", "inet", table)
	t.Cleanup(func() {
		_ = exec.Command("nft", "delete", "table", "inet", table).Run()
		nftTables.Delete(table)
	})
	// In the input hook, where a loopback datagram arrives: a drop there is silent, as
	// on a real link, while one in the output hook fails the sender's sendto with EPERM.
	nft("add", "chain", "inet", table, "in", "{ type filter hook input priority 0; policy accept; }")
	for _, p := range ports {
		nft("add", "rule", "inet", table, "in", "udp", "dport", fmt.Sprint(p), "numgen", "random", "mod", "100", "<", fmt.Sprint(percent), "counter", "drop")
	}
	counters := regexp.MustCompile(`dport (\d+) .*counter packets (\d+)`)
	return func() string {
		var b strings.Builder
		for _, m := range counters.FindAllStringSubmatch(nft("list", "table", "inet", table), -1) {
			fmt.Fprintf(&b, "to port %s: %s dropped; ", m[1], m[2])
		}
		return b.String()
	}
}

// Between the gateway and its pools, 20 % of the datagrams towards each pool lost
// (nftables) and every datagram delayed 0–100 ms both ways (jitterRelay): the prober
// must not take that for an outage, calls must still be set up — SIP retransmits what
// was lost — and a pool that really dies must still be noticed. How many requests were
// retransmitted is in the test log.
func TestChaosLossyLinkToPools(t *testing.T) {
	needOwnNetns(t)
	parallel(t)
	const window = 20 * time.Second
	relays := map[string]*jitterRelay{}
	// Probes as by default but eight misses in a row (2 s), not three: this test's relay
	// runs in the test process, and on the shared 2-core machine (load average 20 seen)
	// a process starved for 0.75 s stops every datagram through it — an outage by any
	// count of three, which is the loaded machine's doing, not the loss's. Resending
	// within a probe, which is what keeps 20 % loss from looking like an outage with
	// the default three misses, is pinned by gateway/dr's TestProbeResendsThroughLoss.
	c := startCluster(t, clusterOptions{gatewayYAML: "probe: {interval: 250ms, timeout: 250ms, misses: 8}\n", plainUDP: true, poolAddr: func(pool string, port int) string {
		r := startJitterRelay(t, port, 100*time.Millisecond)
		relays[pool] = r
		return r.Addr()
	}})
	alice, bob := c.phone("alice"), c.phone("bob")

	gw := c.procs["gateway"]
	gw.out.mark()
	dropped := dropTo(t, 20, c.ports["pool-a"], c.ports["pool-b"])
	t0 := time.Now()
	stalls := watchStalls(t)

	// Watch /api/dr through the window: normal, both pools healthy, all along.
	stopWatch := make(chan struct{})
	watched := make(chan string, 1)
	go func() {
		bad, polls := "", 0
		defer func() { watched <- fmt.Sprintf("%d polls%s", polls, bad) }()
		for {
			select {
			case <-stopWatch:
				return
			case <-time.After(100 * time.Millisecond):
			}
			s, err := c.admin.Status(step(t))
			polls++
			if err == nil && bad == "" && (s.Phase != signaling.PhaseNormal || !healthy(s, "pool-a") || !healthy(s, "pool-b")) {
				bad = fmt.Sprintf("; at %v: %+v", time.Since(t0).Round(time.Millisecond), s)
			}
		}
	}()

	// Calls one after another, a second apart, without audio checks: signalling is what
	// crosses the lossy link (media goes gateway to gateway here), and the test keeps its
	// own CPU use low — on the shared 2-core machine (load 20 seen) a process starved for
	// 0.75 s misses three probes, which is an outage by design, not the loss's doing.
	// A step may take up to a SIP transaction's 32 s: a request lost several times in a
	// row is retransmitted at 0.5, 1.5, 3.5, 7.5, 15.5 s.
	calls := 0
	for time.Since(t0) < window {
		from, to := alice, bob
		if calls%2 == 1 {
			from, to = bob, alice
		}
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		fc, tc, err := callAndAnswer(ctx, from, to)
		cancel()
		if err != nil {
			t.Fatalf("call %d, %s → %s, over the lossy link: %v", calls+1, from.User(), to.User(), err)
		}
		hangUp(t, from, fc, tc)
		calls++
		time.Sleep(time.Second)
	}
	close(stopWatch)
	polls := <-watched
	t.Logf("%v with 20 %% loss towards the pools and 0–100 ms jitter: %d calls set up and hung up; /api/dr: %s", time.Since(t0).Round(time.Second), calls, polls)
	// The relay runs in this process: a stall of it stops every datagram, which no loss
	// does. Said with any failure below, so that a starved machine is told from the link.
	stalled := stalls()
	t.Logf("this test process (and its relays) ran late by up to %s", stalled)
	if strings.Contains(polls, ";") {
		t.Errorf("false outage: /api/dr left normal with both pools healthy%s (this process ran late by up to %s)", polls[strings.Index(polls, ";"):], stalled)
	}
	if got := phaseChanges(gw); len(got) > 0 {
		t.Errorf("false outage: phase changes %v (this process ran late by up to %s)", got, stalled)
	}
	if line := gw.out.find(regexp.MustCompile(`dr: pool down`)); line != "" {
		t.Errorf("false outage: %s (this process ran late by up to %s)", line, stalled)
	}
	for _, pool := range []string{"pool-a", "pool-b"} {
		t.Logf("relay to %s: %s", pool, relays[pool].Report())
	}
	t.Logf("nftables: %s", dropped())

	// A pool that really dies behind the same lossy link is still noticed.
	killed := c.kill("pool-a")
	phases(t, signaling.PhaseFailover, alice, bob)
	t.Logf("pool-a killed behind the lossy link → failover pushed: %s", since(killed))
	c.waitStatus("pool-a down", func(s dr.Snapshot) bool { return !healthy(s, "pool-a") })
}

// watchStalls measures how late this process runs: a ticker every 10 ms, and how far
// past its time the latest tick was taken. The result says the worst lateness, and when
// (since the watch began), until the test ends.
func watchStalls(t testing.TB) (worst func() string) {
	var mu sync.Mutex
	var max time.Duration
	var at time.Duration
	start := time.Now()
	done := make(chan struct{})
	go func() {
		const every = 10 * time.Millisecond
		last := time.Now()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				// How long after the previous tick this goroutine got to run, less the
				// period (a ticker drops the ticks a stalled reader missed).
				late := time.Since(last) - every
				last = time.Now()
				mu.Lock()
				if late > max {
					max, at = late, now.Sub(start)
				}
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { close(done) })
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("%v (at %v)", max.Round(time.Millisecond), at.Round(time.Millisecond))
	}
}
