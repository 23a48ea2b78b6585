package cluster

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/parkway/parkway/signaling"
)

// BenchmarkPhasePush: an admin failover written on gw1 until all three gateways (one
// embedded NATS) publish it to their subscribers; reports the median and worst time to
// the last gateway (push-ms, push-max-ms).
func BenchmarkPhasePush(b *testing.B) {
	p := newPools(b)
	owner := startNode(b, Config{Name: "gw1"})
	var gws []*gw
	for i, name := range []string{"gw1", "gw2", "gw3"} {
		n := owner
		if i > 0 {
			n = sharedNode(b, owner, name)
		}
		gws = append(gws, startDR(b, n, p.config("")))
	}
	for _, g := range gws {
		g.waitStarted("both pools healthy", bothHealthy)
	}
	var took []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		want, do := signaling.PhaseFailedOver, gws[0].d.Failover
		if i%2 == 1 {
			want, do = signaling.PhaseNormal, gws[0].d.Failback
		}
		start := time.Now()
		if _, err := do(context.Background()); err != nil {
			b.Fatal(err)
		}
		for _, g := range gws {
			g.waitFor(string(want), phaseIs(want))
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "push-ms")
	b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "push-max-ms")
}

// BenchmarkLeaderTakeover: the leader's connection dies without handing over; time
// until another gateway leads (takeover-ms). One embedded NATS: the lease TTL bounds it.
func BenchmarkLeaderTakeover(b *testing.B) {
	var took []time.Duration
	for b.Loop() {
		b.StopTimer()
		p := newPools(b)
		owner := startNode(b, Config{Name: "owner"})
		var gws []*gw
		for _, name := range []string{"gw1", "gw2", "gw3"} {
			gws = append(gws, startDR(b, sharedNode(b, owner, name), p.config("")))
		}
		var leader *gw
		waitUntil(b, "a leader", func() bool {
			name := gws[0].d.ClusterStatus().Leader
			for _, g := range gws {
				if g.node.Name() == name {
					leader = g
				}
			}
			return leader != nil
		})
		other := gws[0]
		if other == leader {
			other = gws[1]
		}
		b.StartTimer()
		start := time.Now()
		leader.node.nc.Close()
		waitUntil(b, "a new leader", func() bool {
			l := other.d.ClusterStatus().Leader
			return l != "" && l != leader.node.Name()
		})
		took = append(took, time.Since(start))
		b.StopTimer()
		for _, g := range gws {
			g.stop()
		}
		b.StartTimer()
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "takeover-ms")
}

// BenchmarkEmbeddedStart: what a gateway with the default embedded node adds to its
// start (cmd/parkway's joinCluster and DR.Run's buckets): the single-node nats-server
// with JetStream in memory, the DR's three buckets, the session key and the tickets'
// bucket; then Close. start-ms is the mean to ready, not counting Close.
func BenchmarkEmbeddedStart(b *testing.B) {
	var ready time.Duration
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		t0 := time.Now()
		n, err := Start(Config{Name: "gw1", Logger: quietLogger()})
		if err != nil {
			b.Fatal(err)
		}
		for _, bucket := range []string{bucketPhase, bucketLease, bucketGateways} {
			if _, err := n.Bucket(ctx, bucket, 0); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := SessionKey(ctx, n); err != nil {
			b.Fatal(err)
		}
		if _, err := NewTickets(ctx, n, time.Minute); err != nil {
			b.Fatal(err)
		}
		ready += time.Since(t0)
		b.StopTimer()
		n.Close()
		cancel()
		b.StartTimer()
	}
	b.ReportMetric(float64(ready.Microseconds())/1000/float64(b.N), "start-ms")
}
