package failover

import (
	"testing"
	"time"

	"github.com/parkway/parkway/browsertest"
	"github.com/parkway/parkway/gateway/admin"
	"github.com/parkway/parkway/signaling"
)

// This file is issue #11 item 4 with real processes: a user whose tabs sit on two
// gateways holds one binding per gateway at the pool, and the pool forks a call to both
// (pool/fork.go); the parked-calls feed and the DR phase are one for every gateway.

// tabAt signs user in on gateway name with a microphone tone of hz and waits until
// that gateway registered the user.
func (g *threeGateways) tabAt(name, user string, hz float64) *browsertest.Phone {
	g.t.Helper()
	p, err := browsertest.Connect(step(g.t), g.urls[name], user, &browsertest.Options{Hz: hz})
	if err != nil {
		g.t.Fatalf("%s on %s: %v", user, name, err)
	}
	g.t.Cleanup(p.Close)
	if err := p.WaitReady(step(g.t)); err != nil {
		g.t.Fatalf("%s on %s: %v", user, name, err)
	}
	return p
}

// bobsOtherHz is the tone of bob's tab on gw1, so that hearing hz["bob"] proves the
// audio comes from his tab on gw2.
const bobsOtherHz = 2900

// forked has caller call bob, whose tabs ring on two gateways; answer answers, and
// the other tab's ringing call ends as cancelled. It checks audio both ways between
// the caller and the tab that answered (its tone answerHz), and returns both calls.
func forked(t *testing.T, caller *browsertest.Phone, answer, other *browsertest.Phone, answerHz float64) (cc, bc *browsertest.Call) {
	t.Helper()
	cc, err := caller.Call(step(t), "bob")
	if err != nil {
		t.Fatalf("%s calls bob: %v", caller.User(), err)
	}
	ringA, err := answer.WaitIncoming(step(t))
	if err != nil {
		t.Fatalf("bob's tab that answers never rang: %v", err)
	}
	ringO, err := other.WaitIncoming(step(t))
	if err != nil {
		t.Fatalf("bob's other tab never rang: %v", err)
	}
	if err := ringA.Answer(step(t)); err != nil {
		t.Fatalf("bob answers: %v", err)
	}
	ended(t, "bob's other tab", ringO, "cancelled")
	active(t, cc, ringA)
	cc.Forget()
	ringA.Forget()
	if err := cc.WaitHeard(step(t), answerHz); err != nil {
		t.Fatalf("%s does not hear the tab bob answered on: %v", caller.User(), err)
	}
	if err := ringA.WaitHeard(step(t), hz[caller.User()]); err != nil {
		t.Fatalf("bob does not hear %s: %v", caller.User(), err)
	}
	return cc, ringA
}

// TestUserOnTwoGateways: bob has a tab on gw1 and one on gw2. alice (gw1) calls him:
// both ring, he answers on gw2 and gw1's stops. carol (gw2), parked by alice, shows on
// the parked-calls list of tabs on all three gateways, and bob retrieves her from gw2.
// An admin failover on gw3 reaches every tab on every gateway, and at pool-b the call
// forks again to both of bob's tabs, answered on gw1 this time.
func TestUserOnTwoGateways(t *testing.T) {
	parallel(t)
	g := startThreeGateways(t)
	alice := g.tabAt("gw1", "alice", hz["alice"])
	bob1 := g.tabAt("gw1", "bob", bobsOtherHz)
	bob2 := g.tabAt("gw2", "bob", hz["bob"])
	// carol is on gw2, not gw3: gw3 reaches pool-a through the test's cut relay, whose
	// address the pool does not take in a Route (no open relay), so gw3's tabs watch.
	carol := g.tabAt("gw2", "carol", hz["carol"])
	dave := g.tabAt("gw3", "dave", hz["dave"])
	tabs := map[string]*browsertest.Phone{"alice@gw1": alice, "bob@gw1": bob1, "bob@gw2": bob2, "carol@gw2": carol, "dave@gw3": dave}

	t.Run("call forks to both tabs", func(t *testing.T) {
		ac, bc := forked(t, alice, bob2, bob1, hz["bob"])
		if err := ac.Hangup(step(t)); err != nil {
			t.Fatal(err)
		}
		ended(t, "bob on gw2", bc, "hung up")
	})

	t.Run("parked list on every gateway", func(t *testing.T) {
		ac, cc := connectCall(t, alice, carol)
		orbit := park(t, "alice", ac, "pool-a")
		for name, tab := range tabs {
			if _, err := tab.WaitParked(step(t), "orbit "+orbit, func(l *signaling.Parked) bool {
				return hasOrbit(l, orbit)
			}); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		hearsMusic(t, "carol", cc, "pool-a")
		rc, err := bob2.Retrieve(step(t), orbit)
		if err != nil {
			t.Fatalf("bob retrieves %s on gw2: %v", orbit, err)
		}
		active(t, rc)
		talking(t, "bob", rc, "carol", cc)
		for name, tab := range tabs {
			ctx := step(t)
			for l := tab.LastParked(); l == nil || hasOrbit(l, orbit); l = tab.LastParked() {
				select {
				case <-ctx.Done():
					t.Fatalf("%s: orbit %s still listed after its retrieve: %+v", name, orbit, l)
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
		if err := rc.Hangup(step(t)); err != nil {
			t.Fatal(err)
		}
		ended(t, "carol", cc, "hung up")
	})

	t.Run("one phase everywhere and forking at the backup", func(t *testing.T) {
		if _, err := (&admin.Client{Gateway: g.urls["gw3"]}).Failover(step(t)); err != nil {
			t.Fatalf("failover on gw3: %v", err)
		}
		for name, tab := range tabs {
			if err := tab.WaitPhase(step(t), signaling.PhaseFailedOver); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		all := g.waitAll("failed-over", func(s clusterDR) bool { return s.Phase == signaling.PhaseFailedOver })
		rev := all["gw1"].Cluster.Revision
		for n, s := range all {
			if s.Cluster.Revision != rev {
				t.Fatalf("%s is failed-over at revision %d, gw1 at %d", n, s.Cluster.Revision, rev)
			}
		}
		// Both gateways moved bob's binding to pool-b: the call forks there too.
		ac, bc := forked(t, alice, bob1, bob2, bobsOtherHz)
		if err := bc.Hangup(step(t)); err != nil {
			t.Fatal(err)
		}
		ended(t, "alice", ac, "hung up")
	})
}

func hasOrbit(l *signaling.Parked, orbit string) bool {
	for _, c := range l.Calls {
		if c.Orbit == orbit {
			return true
		}
	}
	return false
}
