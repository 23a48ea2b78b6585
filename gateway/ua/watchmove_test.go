package ua

import (
	"testing"
	"time"

	"github.com/parkway/parkway/pool"
)

// TestWatcherMovesOffDeadPool: when the pool being watched has died (failover), the
// watcher subscribes at the new active pool at once; its unsubscribe from the dead
// pool, which can only time out, goes on the side. RequestTimeout is set far beyond
// the wait here, so a move that waited for it would never be seen.
func TestWatcherMovesOffDeadPool(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	cfg := ps.config(demoUsers)
	cfg.RequestTimeout = 10 * wait
	m := newManager(t, cfg)
	ctx := testCtx(t)
	var rec listRecorder
	w, err := m.WatchParked(ctx, "", rec.add)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "pool-a's list", func() bool { l, n := rec.last(); return n > 0 && l.Pool == "pool-a" })
	ps.a.Stop()
	start := time.Now()
	m.moveWatchers(ctx, ps.config(demoUsers).Pools[1])
	eventually(t, "pool-b's list", func() bool { l, _ := rec.last(); return l.Pool == "pool-b" })
	t.Logf("pool-b's list %v after the move", time.Since(start).Round(time.Millisecond))
	w.Close()
}
