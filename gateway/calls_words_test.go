package gateway

import (
	"testing"

	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/signaling"
)

// Refusals and failures in words (issue #10 item 4): one plain sentence, never an error
// chain, and orbits of a pool that is down refused before anything is sent.

// setOrbitPools publishes both pools with their orbit ranges and health.
func (f *fakeController) setOrbitPools(aUp, bUp bool) {
	f.mu.Lock()
	f.snap.Pools = []dr.PoolStatus{{Name: "pool-a", Orbits: "7000-7099", Healthy: aUp}, {Name: "pool-b", Orbits: "8000-8099", Healthy: bUp}}
	f.snap.Seq++
	f.mu.Unlock()
}

func TestCallsOrbitOfDownPoolRefused(t *testing.T) {
	g, poolA := callGateway(t)
	alice, _ := g.connect(t, "alice")
	bob, _ := g.connect(t, "bob")
	ready(t, g, poolA, "alice", "bob")
	g.ctl.setOrbitPools(false, true)

	for _, tc := range []struct{ orbit, want string }{
		{"7000", "Orbit 7000 is on pool-a, which is down."},
		{"9000", "Orbit 9000 is not in any pool's orbit range (pool-a 7000-7099, pool-b 8000-8099)."},
	} {
		alice.send(request("r"+tc.orbit, &signaling.Request{Action: signaling.ActionRetrieve, Orbit: tc.orbit, SDP: newBrowser(t, true).offer().SDP}))
		if e := nextError(t, alice); e.Code != signaling.CodeRefused || e.Field != "orbit" || e.Ref != "r"+tc.orbit || e.Message != tc.want {
			t.Fatalf("retrieve %s: %+v, want refused (orbit) %q", tc.orbit, e, tc.want)
		}
	}
	aliceID, _, _, _ := establish(t, alice, bob, "bob")
	alice.send(request("p1", &signaling.Request{Action: signaling.ActionPark, Call: aliceID, Orbit: "7001"}))
	if e := nextError(t, alice); e.Code != signaling.CodeRefused || e.Field != "orbit" || e.Message != "Orbit 7001 is on pool-a, which is down." {
		t.Fatalf("directed park to 7001: %+v", e)
	}
	if n := len(poolA.Park().Parked()); n != 0 {
		t.Fatalf("the refused park reached pool-a's park service: %d parked", n)
	}
	alive(t, alice, 1)
}

// A directed park the park service refuses (double park, 486) is told as the reason.
func TestCallsParkFailureInWords(t *testing.T) {
	g, poolA := callGateway(t)
	alice, _ := g.connect(t, "alice")
	bob, _ := g.connect(t, "bob")
	carol, _ := g.connect(t, "carol")
	ready(t, g, poolA, "alice", "bob", "carol")
	g.ctl.setOrbitPools(true, true)
	parkOne(t, g, alice, bob, carol)
	orbit := poolA.Park().Parked()[0].Orbit

	aliceID, _, _, _ := establish(t, alice, carol, "carol")
	alice.send(request("p2", &signaling.Request{Action: signaling.ActionPark, Call: aliceID, Orbit: orbit}))
	want := "Orbit " + orbit + " is already in use."
	if e := nextError(t, alice); e.Code != signaling.CodeUnavailable || e.Ref != "p2" || e.Message != want {
		t.Fatalf("a double park: %+v, want %q", e, want)
	}
}
