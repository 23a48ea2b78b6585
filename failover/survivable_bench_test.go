package failover

import (
	"testing"
	"time"
)

// BenchmarkReparkWithMusic (issue #10's closing note): with survivable park on, pool-a,
// where bob is parked, is SIGKILLed → bob hears pool-b's music on hold (his tone
// detector's first window of it), and → the parker's panel shows him on pool-b. Each
// iteration starts its own processes (not timed); reported, never asserted.
func BenchmarkReparkWithMusic(b *testing.B) {
	var music, panel time.Duration
	for range b.N {
		b.StopTimer()
		c := startCluster(b, clusterOptions{survivable: true})
		alice, bob := c.phone("alice"), c.phone("bob")
		ac, bc := connectCall(b, alice, bob)
		park(b, "alice", ac, "pool-a")
		hearsMusic(b, "bob", bc, "pool-a")
		b.StartTimer()
		killed := c.kill("pool-a")
		hearsMusic(b, "bob", bc, "pool-b")
		music += time.Since(killed)
		waitParkedOn(b, alice, "bob", "pool-b")
		panel += time.Since(killed)
		b.StopTimer()
		c.stop()
	}
	b.ReportMetric(ms(music, b.N), "ms-kill-to-pool-b-music")
	b.ReportMetric(ms(panel, b.N), "ms-kill-to-panel")
}
