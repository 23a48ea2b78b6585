package failover

import (
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/parkway/parkway/browsertest"
	"github.com/parkway/parkway/signaling"
)

// The numbers of issue 5's closing note, through the real processes: each iteration
// starts its own pools and gateway (not timed) and measures one failure. They are
// reported, never asserted (ARCHITECTURE.md §5); BENCHMARKS.md has a run and how to repeat it.

// BenchmarkOutagePushed: pool-a SIGKILLed → the outage state read from the websocket
// of a signed-in softphone. The gateway's watch connection to the pool (gateway/dr,
// connwatch.go) is reset by the kernel as the process dies and the reconnection is
// refused; without it (probe.connection: false) the prober's three missed OPTIONS,
// about 0.9 s. p50-ms and max-ms are over the iterations: run -benchtime 20x for the
// median of 20 kills.
func BenchmarkOutagePushed(b *testing.B) {
	var total time.Duration
	var each []time.Duration
	for range b.N {
		b.StopTimer()
		c := startCluster(b, clusterOptions{})
		alice := c.phone("alice")
		time.Sleep(watchSettled) // the watch connection armed, as it is in service
		b.StartTimer()
		killed := c.kill("pool-a")
		// The first state after normal: outage, or failover already when redirecting
		// two users took less time than pushing the outage (the gateway keeps only
		// the newest state for a tab).
		if _, err := alice.WaitPushed(step(b), func(s signaling.State) bool { return s.Phase != signaling.PhaseNormal }); err != nil {
			b.Fatal(err)
		}
		d := time.Since(killed)
		total += d
		each = append(each, d)
		b.StopTimer()
		c.stop()
	}
	slices.Sort(each)
	b.ReportMetric(ms(total, b.N), "ms-kill-to-outage")
	b.ReportMetric(float64(each[(len(each)-1)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(each[len(each)-1].Microseconds())/1000, "max-ms")
}

// BenchmarkRedirect: from the outage pushed to failover pushed, which the gateway
// enters the moment every signed-in user is registered at pool-b — for 100 and 1,000
// users signed in through their own websockets.
func BenchmarkRedirect(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			users := make([]string, n)
			for i := range users {
				users[i] = fmt.Sprintf("u%04d", i)
			}
			var redirect, kill time.Duration
			for range b.N {
				b.StopTimer()
				c := startCluster(b, clusterOptions{users: users})
				phones := make([]*browsertest.Phone, 0, n)
				for _, u := range users {
					phones = append(phones, c.connect(u))
				}
				for _, p := range phones {
					if err := p.WaitReady(timeout(b, 2*time.Minute)); err != nil {
						b.Fatal(err)
					}
				}
				watcher := phones[0]
				b.StartTimer()
				killed := c.kill("pool-a")
				if err := watcher.WaitPhase(timeout(b, time.Minute), signaling.PhaseFailover); err != nil {
					b.Fatal(err)
				}
				kill += time.Since(killed)
				b.StopTimer()
				// A short outage may never reach a tab (only the newest state is kept
				// for it), so the outage → failover interval is the gateway's own: the
				// times it logged entering each phase.
				d := c.phaseEntered(signaling.PhaseFailover).Sub(c.phaseEntered(signaling.PhaseOutage))
				b.Logf("%d users: outage → failover %v", n, d)
				redirect += d
				c.stop()
			}
			b.ReportMetric(ms(redirect, b.N), "ms-outage-to-all-on-backup")
			b.ReportMetric(ms(kill, b.N), "ms-kill-to-failover")
		})
	}
}

// BenchmarkFailoverToPark: the admin's failover → Park enabled in the pushed
// capabilities of a user in a call, and → that user's park done (orbit on pool-b).
// "after-outage" completes a failover the outage started; "planned" fails over from
// normal with pool-a alive, so it includes moving the users.
func BenchmarkFailoverToPark(b *testing.B) {
	for _, planned := range []bool{false, true} {
		name := "after-outage"
		if planned {
			name = "planned"
		}
		b.Run(name, func(b *testing.B) {
			var enabled, parked time.Duration
			for range b.N {
				b.StopTimer()
				c := startCluster(b, clusterOptions{})
				alice, bob := c.phone("alice"), c.phone("bob")
				if !planned {
					toFailover(b, c, alice, bob)
				}
				ac, _ := connectCall(b, alice, bob)
				b.StartTimer()
				asked := time.Now()
				c.failover()
				if _, err := alice.WaitPushed(step(b), func(s signaling.State) bool {
					return s.Phase == signaling.PhaseFailedOver && s.Capabilities[signaling.ActionPark].Allowed
				}); err != nil {
					b.Fatal(err)
				}
				enabled += time.Since(asked)
				park(b, "alice", ac, "pool-b")
				parked += time.Since(asked)
				b.StopTimer()
				c.stop()
			}
			b.ReportMetric(ms(enabled, b.N), "ms-to-park-enabled")
			b.ReportMetric(ms(parked, b.N), "ms-to-parked")
		})
	}
}

// phaseEntered is when the gateway logged entering phase (first time), to the
// millisecond of its log's timestamps.
func (c *cluster) phaseEntered(phase signaling.Phase) time.Time {
	c.t.Helper()
	re := regexp.MustCompile(`^time=(\S+) .*msg="dr: phase change" .* to=` + string(phase) + ` `)
	// The log comes through a pipe: the line may arrive after the state it tells of.
	line := c.procs["gateway"].waitLine(c.t, re)
	at, err := time.Parse(time.RFC3339Nano, re.FindStringSubmatch(line)[1])
	if err != nil {
		c.t.Fatal(err)
	}
	return at
}

func ms(total time.Duration, n int) float64 {
	return float64(total.Microseconds()) / 1000 / float64(n)
}
