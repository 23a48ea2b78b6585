package gateway

import (
	"testing"

	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/signaling"
)

// setPools publishes the pools' health, as the real controller's probes do.
func (f *fakeController) setPools(healthy map[string]bool) {
	f.mu.Lock()
	f.snap.Pools = nil
	for _, name := range []string{"pool-a", "pool-b"} {
		f.snap.Pools = append(f.snap.Pools, dr.PoolStatus{Name: name, Healthy: healthy[name]})
	}
	f.snap.Seq++
	snap := f.snap
	subs := make([]func(dr.Snapshot), 0, len(f.subs))
	for _, fn := range f.subs {
		subs = append(subs, fn)
	}
	f.mu.Unlock()
	for _, fn := range subs {
		fn(snap)
	}
}

// feedList is the list the parked feed offers tabs now.
func feedList(t *testing.T, g *testGateway) *signaling.Parked {
	t.Helper()
	_, m, err := signaling.Decode(signaling.FromGateway, g.phones.ParkedList())
	if err != nil {
		t.Fatal(err)
	}
	return m.(*signaling.Parked)
}

// parkOne parks a call from alice to bob and waits for watcher's list to show it.
func parkOne(t *testing.T, g *testGateway, aliceWS, bobWS, watcher *client) {
	t.Helper()
	aliceID, _, _, _ := establish(t, aliceWS, bobWS, "bob")
	aliceWS.send(request("park", &signaling.Request{Action: signaling.ActionPark, Call: aliceID}))
	ended(t, aliceWS, aliceID)
	nextParked(t, watcher, "bob's call parked on pool-a", func(p *signaling.Parked) bool { return p.Pool == "pool-a" && len(p.Calls) == 1 })
}

// When the pool the parked list comes from fails, its calls are gone with it: every
// tab gets that pool's empty list at once, not when users have moved to pool-b. A
// failing pool the list does not come from changes nothing.
func TestCallsParkedListEmptiedWhenItsPoolFails(t *testing.T) {
	g, poolA := callGateway(t)
	aliceWS, _ := g.connect(t, "alice")
	bobWS, _ := g.connect(t, "bob")
	carolWS, _ := g.connect(t, "carol")
	ready(t, g, poolA, "alice", "bob", "carol")
	g.ctl.setPools(map[string]bool{"pool-a": true, "pool-b": true})
	parkOne(t, g, aliceWS, bobWS, carolWS)

	g.ctl.setPools(map[string]bool{"pool-a": true}) // the backup fails: not the list's pool
	if l := feedList(t, g); len(l.Calls) != 1 {
		t.Fatalf("the backup failing changed the list to %+v", l)
	}
	g.ctl.setPools(map[string]bool{}) // then the home pool
	// The controller's subscribers run before setPools returns: the list is already
	// the empty one, and it is on its way to every tab.
	if l := feedList(t, g); l.Pool != "pool-a" || len(l.Calls) != 0 {
		t.Fatalf("the list after pool-a failed: %+v, want pool-a's, empty", l)
	}
	l := nextParked(t, carolWS, "pool-a's list after pool-a failed", func(*signaling.Parked) bool { return true })
	if l.Pool != "pool-a" || l.Calls == nil || len(l.Calls) != 0 {
		t.Fatalf("the list after pool-a failed: %+v, want pool-a's, empty", l)
	}
	// A tab that connects now gets the empty list too.
	dave, _ := g.connect(t, "dave")
	if l := nextParked(t, dave, "a new tab's list", func(*signaling.Parked) bool { return true }); len(l.Calls) != 0 {
		t.Fatalf("a new tab's list %+v", l)
	}
}

// The outage phase is the home pool failing, also with a controller that reports no
// pool health.
func TestCallsParkedListEmptiedAtOutage(t *testing.T) {
	g, poolA := callGateway(t)
	aliceWS, _ := g.connect(t, "alice")
	bobWS, _ := g.connect(t, "bob")
	carolWS, _ := g.connect(t, "carol")
	ready(t, g, poolA, "alice", "bob", "carol")
	parkOne(t, g, aliceWS, bobWS, carolWS)

	g.ctl.set(signaling.PhaseOutage)
	if l := feedList(t, g); l.Pool != "pool-a" || len(l.Calls) != 0 {
		t.Fatalf("the list at the outage: %+v, want pool-a's, empty", l)
	}
	l := nextParked(t, carolWS, "pool-a's list at the outage", func(*signaling.Parked) bool { return true })
	if l.Pool != "pool-a" || len(l.Calls) != 0 {
		t.Fatalf("the list at the outage: %+v, want pool-a's, empty", l)
	}
}
