package failover

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parkway/parkway/browsertest"
	"github.com/parkway/parkway/signaling"
)

// Issue #11's numbers with real processes: three `parkway gateway` processes whose
// embedded NATS nodes form one cluster, over the two pools (startThreeGateways). Each
// iteration starts its own processes (not timed) and measures one failure; reported,
// never asserted. p50 and max are over the iterations: run e.g. -benchtime 5x.

// BenchmarkLeaderTakeover: the DR leader gateway SIGKILLed → every surviving gateway
// names a new leader in GET /api/dr. Its cost is the lease's TTL (1 s: the survivors
// take over a lease not renewed for that long), the 100 ms between two looks at it,
// and one replicated write; it no longer waits for a Raft election of the buckets,
// whose leadership the DR leader keeps off its own node.
func BenchmarkLeaderTakeover(b *testing.B) {
	var each []time.Duration
	for range b.N {
		b.StopTimer()
		g := startThreeGateways(b)
		leader := g.leader()
		b.StartTimer()
		killed := g.kill(leader)
		g.waitAll("a new leader", func(s clusterDR) bool { return s.Cluster.Leader != "" && s.Cluster.Leader != leader })
		each = append(each, time.Since(killed))
		b.StopTimer()
		g.stopAll()
	}
	reportSpread(b, each, "ms-kill-to-new-leader")
}

// BenchmarkClusterFailover: pool-a SIGKILLed with n users signed in on each of the
// three gateways (their own websockets and SIP registrations) → the cluster's phase is
// failover on a tab of every gateway: a majority of gateways saw pool-a down, the
// leader declared the outage, every gateway moved its own users to pool-b and
// reported it, and the leader wrote failover.
func BenchmarkClusterFailover(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("users-per-gateway=%d", n), func(b *testing.B) {
			users := make([]string, 3*n)
			for i := range users {
				users[i] = fmt.Sprintf("u%05d", i)
			}
			var each []time.Duration
			for range b.N {
				b.StopTimer()
				g := startThreeGateways(b, users...)
				watchers := make([]*browsertest.Phone, 0, 3)
				phones := make([]*browsertest.Phone, 0, len(users))
				for i, u := range users {
					p := g.phoneOn(g.names[i%3], u)
					phones = append(phones, p)
					if i < 3 {
						watchers = append(watchers, p)
					}
				}
				for _, p := range phones {
					if err := p.WaitReady(timeout(b, 5*time.Minute)); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				killed := g.kill("pool-a")
				for _, w := range watchers {
					if err := w.WaitPhase(timeout(b, 2*time.Minute), signaling.PhaseFailover); err != nil {
						b.Fatal(err)
					}
				}
				each = append(each, time.Since(killed))
				b.StopTimer()
				for _, p := range phones {
					p.Close()
				}
				g.stopAll()
			}
			reportSpread(b, each, "ms-kill-to-failover")
		})
	}
}

// reportSpread reports the mean of each as unit, and its median and maximum.
func reportSpread(b *testing.B, each []time.Duration, unit string) {
	var total time.Duration
	for _, d := range each {
		total += d
	}
	slices.Sort(each)
	b.ReportMetric(ms(total, len(each)), unit)
	b.ReportMetric(float64(each[(len(each)-1)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(each[len(each)-1].Microseconds())/1000, "max-ms")
}

// leader waits until every gateway names the same leader, and returns it.
func (g *threeGateways) leader() string {
	g.t.Helper()
	deadline := time.Now().Add(clusterWait)
	for {
		all := g.waitAll("a leader", func(s clusterDR) bool { return s.Cluster.Leader != "" })
		names := map[string]bool{}
		var leader string
		for _, s := range all {
			names[s.Cluster.Leader], leader = true, s.Cluster.Leader
		}
		if len(names) == 1 {
			return leader
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("the gateways name different leaders: %v", names)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// phoneOn signs user in on gateway name, without waiting for SIP registration.
func (g *threeGateways) phoneOn(name, user string) *browsertest.Phone {
	g.t.Helper()
	url := g.url
	g.url = g.urls[name]
	defer func() { g.url = url }()
	return g.connect(user)
}

// stopAll kills the gateways (their goodbyes to a dead pool would wait out SIP's
// timeout), then stops the pools: an iteration's processes gone before the next.
func (g *threeGateways) stopAll() {
	for _, n := range g.names {
		if p := g.procs[n]; p != nil {
			p.kill()
		}
	}
	g.stop()
}
