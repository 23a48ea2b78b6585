package failover

import (
	"strconv"
	"testing"
	"time"

	"github.com/parkway/parkway/browsertest"
	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/siptest"
)

// Survivable park (issue #10, opt-in, beyond Lync; ARCHITECTURE.md §3): a call parked on
// a pool that dies is re-parked on the other pool when the gateway holds the parked
// party's leg. Pool-a dies by SIGKILL, as in the seed's cells.

// parkedCall finds peer's call on pool in a parked-calls list.
func parkedCall(l *signaling.Parked, peer, pool string) (signaling.ParkedCall, bool) {
	for _, c := range l.Calls {
		if c.Peer == peer && c.Pool == pool {
			return c, true
		}
	}
	return signaling.ParkedCall{}, false
}

// waitParkedOn waits until p's parked-calls panel shows peer parked on pool.
func waitParkedOn(t testing.TB, p *browsertest.Phone, peer, pool string) signaling.ParkedCall {
	t.Helper()
	l, err := p.WaitParked(step(t), peer+" parked on "+pool, func(l *signaling.Parked) bool {
		_, ok := parkedCall(l, peer, pool)
		return ok
	})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := parkedCall(l, peer, pool)
	return c
}

// survivableShown checks GET /api/dr's survivablePark for both pools.
func survivableShown(t testing.TB, c *cluster, want bool) {
	t.Helper()
	s, err := c.admin.Status(step(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pool-a", "pool-b"} {
		if p, ok := s.Pool(name); !ok || p.SurvivablePark != want {
			t.Fatalf("GET /api/dr: %s %+v, want survivablePark %v", name, p, want)
		}
	}
}

// Alice parks bob (a browser) on pool-a; pool-a is killed. Bob's call is not hung up:
// he hears pool-b's music, every panel (the parker's too) shows him at an 80xx orbit on
// pool-b with the original park time, the pickup timeout counts from it, and the
// ring-back goes to alice, who parked him.
func TestSurvivableParkReparksBrowserLeg(t *testing.T) {
	parallel(t)
	c := startCluster(t, clusterOptions{survivable: true, pickupB: minPickup})
	survivableShown(t, c, true)
	alice, bob, carol := c.phone("alice"), c.phone("bob"), c.phone("carol")
	ac, bc := connectCall(t, alice, bob)
	orbit := park(t, "alice", ac, "pool-a")
	hearsMusic(t, "bob", bc, "pool-a")
	first := waitParkedOn(t, carol, "bob", "pool-a")
	if first.Orbit != orbit || first.ParkedBy != "alice" {
		t.Fatalf("carol's panel before the failure: %+v, want bob at %s parked by alice", first, orbit)
	}

	killed := c.kill("pool-a")
	hearsMusic(t, "bob", bc, "pool-b")
	t.Logf("pool-a killed → bob hears pool-b's music: %s", since(killed))
	still(t, "bob", bc)
	for _, p := range []*browsertest.Phone{alice, carol} {
		moved := waitParkedOn(t, p, "bob", "pool-b")
		if n, err := strconv.Atoi(moved.Orbit); err != nil || n < 8000 || n > 8099 {
			t.Fatalf("%s's panel: bob re-parked at %q, want an orbit of pool-b's 8000-8099", p.User(), moved.Orbit)
		}
		if moved.Since != first.Since || moved.ParkedBy != "alice" {
			t.Fatalf("%s's panel: re-parked call %+v, want the original park time %d and parker alice", p.User(), moved, first.Since)
		}
		if want := first.Since + minPickup.Milliseconds(); moved.Expires != want {
			t.Fatalf("%s's panel: re-parked call expires at %d, want %d: pool-b's pickup timeout from the original park", p.User(), moved.Expires, want)
		}
	}
	// bob hears pool-b's music as soon as the re-park's media flows; the call message
	// saying why can come after it
	if _, err := bc.WaitUpdate(step(t), "active, "+parkwire.ReasonReparked, func(got signaling.Call) bool {
		return got.State == signaling.CallActive && got.Reason == parkwire.ReasonReparked
	}); err != nil {
		t.Fatalf("bob's call after the re-park: %v", err)
	}

	ringBack, err := alice.WaitIncoming(timeout(t, minPickup+wait))
	if err != nil {
		t.Fatalf("pool-b never rang alice, the original parker, back: %v", err)
	}
	if err := ringBack.Answer(step(t)); err != nil {
		t.Fatal(err)
	}
	active(t, ringBack)
	talking(t, "alice", ringBack, "bob", bc)
}

// Carol retrieves bob from pool-b after pool-a died under him and users failed over.
func TestSurvivableParkRetrievedAfterFailover(t *testing.T) {
	parallel(t)
	c := startCluster(t, clusterOptions{survivable: true})
	alice, bob, carol := c.phone("alice"), c.phone("bob"), c.phone("carol")
	ac, bc := connectCall(t, alice, bob)
	park(t, "alice", ac, "pool-a")
	hearsMusic(t, "bob", bc, "pool-a")
	toFailedOver(t, c, alice, bob, carol)
	moved := waitParkedOn(t, carol, "bob", "pool-b")
	hearsMusic(t, "bob", bc, "pool-b")
	cc, err := carol.Retrieve(step(t), moved.Orbit)
	if err != nil {
		t.Fatalf("carol retrieves %s: %v", moved.Orbit, err)
	}
	active(t, cc)
	talking(t, "carol", cc, "bob", bc)
}

// Off (the default), the seed's exact drop: GET /api/dr says false and the parked party
// is hung up with "the park pool failed" (TestParkedWhenOutageOccurs is the same cell).
func TestSurvivableParkOffDrops(t *testing.T) {
	parallel(t)
	c := startCluster(t, clusterOptions{})
	survivableShown(t, c, false)
	alice, bob := c.phone("alice"), c.phone("bob")
	ac, bc := connectCall(t, alice, bob)
	park(t, "alice", ac, "pool-a")
	parkPoolKilled(t, c, "bob", bc)
}

// A parked SIP phone's leg is not the gateway's: it cannot be re-parked and stays with
// the dead park service, as in the seed, while a browser parked beside it survives.
func TestSurvivableParkLeavesSIPPhone(t *testing.T) {
	parallel(t)
	c := startCluster(t, clusterOptions{survivable: true, users: []string{"frank"}})
	frank := siptest.NewPhone(t, siptest.PhoneOptions{User: "frank", Password: password("frank"), Domain: "pool-a",
		Proxy: "127.0.0.1:" + strconv.Itoa(c.ports["pool-a"]), ToneHz: 2900})
	if _, err := frank.Register(step(t), time.Minute); err != nil {
		t.Fatalf("frank registers at pool-a: %v", err)
	}
	alice, bob, carol := c.phone("alice"), c.phone("bob"), c.phone("carol")
	ac, err := alice.Call(step(t), "frank")
	if err != nil {
		t.Fatal(err)
	}
	var fc *siptest.Call
	select {
	case fc = <-frank.Incoming():
	case <-step(t).Done():
		t.Fatal("frank's phone never rang")
	}
	if err := fc.Answer(step(t)); err != nil {
		t.Fatal(err)
	}
	active(t, ac)
	park(t, "alice", ac, "pool-a")
	waitParkedOn(t, carol, "frank", "pool-a")
	cc, bc := connectCall(t, carol, bob)
	park(t, "carol", cc, "pool-a")

	c.kill("pool-a")
	hearsMusic(t, "bob", bc, "pool-b")
	l, err := carol.WaitParked(step(t), "bob on pool-b", func(l *signaling.Parked) bool {
		_, ok := parkedCall(l, "bob", "pool-b")
		return ok
	})
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := parkedCall(l, "frank", "pool-b"); ok || len(l.Calls) != 1 {
		t.Fatalf("pool-b's parked calls %+v (frank %+v): want bob alone, frank's SIP phone cannot be re-parked", l.Calls, f)
	}
}
