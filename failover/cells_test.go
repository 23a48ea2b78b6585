package failover

import (
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/browsertest"
	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/signaling"
)

// The seed's table (ARCHITECTURE.md §2, "what happens to calls at each phase change"), one
// test per cell. Row: not yet parked, parked, already retrieved. Column: when outage
// occurs, during failover, during failback. Pool-a is home, pool-b the backup; pool-a
// always dies by SIGKILL.

// toFailover kills pool-a and waits until the gateway has redirected everyone to pool-b.
func toFailover(t testing.TB, c *cluster, phones ...*browsertest.Phone) {
	t.Helper()
	killed := c.kill("pool-a")
	phases(t, signaling.PhaseFailover, phones...)
	t.Logf("pool-a killed → failover pushed: %s", since(killed))
}

// toFailedOver is toFailover and the admin's failover.
func toFailedOver(t testing.TB, c *cluster, phones ...*browsertest.Phone) {
	t.Helper()
	toFailover(t, c, phones...)
	c.failover()
	phases(t, signaling.PhaseFailedOver, phones...)
}

// startFailback restarts pool-a and has the admin fail back.
func startFailback(t testing.TB, c *cluster) {
	t.Helper()
	c.restart("pool-a")
	c.failback()
}

// canPark waits until p may park again.
func canPark(t testing.TB, p *browsertest.Phone) {
	t.Helper()
	if _, err := p.WaitCapability(step(t), signaling.ActionPark, true); err != nil {
		t.Fatal(err)
	}
}

// parkPoolKilled kills pool-a, where who's call is parked, and waits until that call
// ends with the reason, never in silence.
func parkPoolKilled(t testing.TB, c *cluster, who string, call *browsertest.Call) {
	t.Helper()
	killed := c.kill("pool-a")
	ended(t, who, call, "the park pool failed")
	t.Logf("pool-a killed → %s's parked call ended: %s", who, since(killed))
}

// Not yet parked, when outage occurs: the call stays connected and cannot be parked;
// what needs a registrar is refused too.
func TestNotParkedWhenOutageOccurs(t *testing.T) {
	parallel(t)
	c := startCluster(t, clusterOptions{holdoutAt: "pool-a"})
	alice, bob := c.phone("alice"), c.phone("bob")
	erin := c.phone(holdout) // keeps the outage from ending: pool-b does not know her
	ac, bc := connectCall(t, alice, bob)

	killed := c.kill("pool-a")
	phases(t, signaling.PhaseOutage, alice, bob, erin)
	t.Logf("pool-a killed → outage pushed: %s", since(killed))
	talking(t, "alice", ac, "bob", bc)
	parkRefused(t, alice, ac, signaling.ReasonParkOutage)
	refusal(t, "alice transfers", ac.Transfer(step(t), "carol"), signaling.CodeRefused, signaling.ReasonTransferOutage)
	_, err := alice.Call(step(t), "carol")
	refusal(t, "alice places a call", err, signaling.CodeRefused, signaling.ReasonNoRegistrar)
	holdAndResume(t, "alice", ac) // hold needs no pool: it is a re-INVITE to bob directly
	talking(t, "alice", ac, "bob", bc)
	still(t, "alice", ac)
	still(t, "bob", bc)
}

// Not yet parked, during failover: it cannot be parked while in resiliency mode but
// can be held and transferred; it can be parked once failover completes.
func TestNotParkedDuringFailover(t *testing.T) {
	parallel(t)
	c := startCluster(t, clusterOptions{})
	alice, bob, carol := c.phone("alice"), c.phone("bob"), c.phone("carol")
	ac, bc := connectCall(t, alice, bob)

	toFailover(t, c, alice, bob, carol)
	talking(t, "alice", ac, "bob", bc)
	parkRefused(t, alice, ac, signaling.ReasonParkResiliency)
	holdAndResume(t, "alice", ac)
	talking(t, "alice", ac, "bob", bc)

	// Blind transfer to carol: bob's call goes on, now with carol, through pool-b.
	cc := transfer(t, alice, ac, carol)
	talking(t, "bob", bc, "carol", cc)

	// Failover completes: park is back, on pool-b's park service.
	c.failover()
	phases(t, signaling.PhaseFailedOver, carol)
	canPark(t, carol)
	park(t, "carol", cc, "pool-b")
	hearsMusic(t, "bob", bc, "pool-b")
}

// Not yet parked, during failback: as during failover; parkable again, on the home
// pool, once failback completes.
func TestNotParkedDuringFailback(t *testing.T) {
	parallel(t)
	c := startCluster(t, clusterOptions{holdoutAt: "pool-b"})
	alice, bob, carol := c.phone("alice"), c.phone("bob"), c.phone("carol")
	ac, bc := connectCall(t, alice, bob)
	toFailedOver(t, c, alice, bob, carol)
	erin := c.phone(holdout) // on pool-b now; pool-a does not know her, so failback waits for her

	// An admin who tries too early is told why, and nothing moves.
	out, err := c.dr("failback")
	if want := "failback refused in phase failed-over: the home pool is not healthy; failback needs it answering probes"; err == nil || !strings.Contains(out, want) {
		t.Fatalf("`parkway dr failback` with pool-a down: %v\n%s\nwant a refusal saying %q", err, out, want)
	}
	startFailback(t, c)
	phases(t, signaling.PhaseFailback, alice, bob, carol)
	talking(t, "alice", ac, "bob", bc)
	parkRefused(t, alice, ac, signaling.ReasonParkResiliency)
	holdAndResume(t, "alice", ac)
	talking(t, "alice", ac, "bob", bc)
	cc := transfer(t, alice, ac, carol)
	talking(t, "bob", bc, "carol", cc)

	erin.Close() // she signs out; failback finishes without her
	phases(t, signaling.PhaseNormal, alice, bob, carol)
	talking(t, "bob", bc, "carol", cc)
	canPark(t, carol)
	park(t, "carol", cc, "pool-a")
	hearsMusic(t, "bob", bc, "pool-a")
}

// Parked, not yet retrieved, when outage occurs: the parked party is hung up with a
// clear reason, never left in silence.
func TestParkedWhenOutageOccurs(t *testing.T) {
	parallel(t)
	c := startCluster(t, clusterOptions{})
	alice, bob := c.phone("alice"), c.phone("bob")
	ac, bc := connectCall(t, alice, bob)
	park(t, "alice", ac, "pool-a")
	hearsMusic(t, "bob", bc, "pool-a")

	parkPoolKilled(t, c, "bob", bc)
}

// Parked, during failover: no calls are in this state. Parked calls went with pool-a,
// nobody can park in resiliency mode, and Retrieve says so.
func TestParkedDuringFailover(t *testing.T) {
	parallel(t)
	c := startCluster(t, clusterOptions{})
	alice, bob, carol := c.phone("alice"), c.phone("bob"), c.phone("carol")
	ac, bc := connectCall(t, alice, bob)
	orbit := park(t, "alice", ac, "pool-a")

	toFailover(t, c, alice, bob, carol)
	ended(t, "bob", bc, "the park pool failed")
	_, err := carol.Retrieve(step(t), orbit)
	refusal(t, "carol retrieves "+orbit, err, signaling.CodeRefused, signaling.ReasonRetrieveFailover)
	if v := carol.State().Capabilities[signaling.ActionRetrieve]; v.Allowed || v.Reason != signaling.ReasonRetrieveFailover {
		t.Fatalf("carol's Retrieve button during failover: %+v", v)
	}
	// And no new parked call can appear: a call placed now cannot be parked.
	ac2, cc := connectCall(t, alice, carol)
	parkRefused(t, alice, ac2, signaling.ReasonParkResiliency)
	talking(t, "alice", ac2, "carol", cc)
}

// Parked, during failback: a call parked on the backup stays parked through failback
// and is retrieved by a user back on the home pool.
func TestParkedDuringFailback(t *testing.T) {
	parallel(t)
	c := startCluster(t, clusterOptions{holdoutAt: "pool-b"})
	alice, bob, carol := c.phone("alice"), c.phone("bob"), c.phone("carol")
	toFailedOver(t, c, alice, bob, carol)
	ac, bc := connectCall(t, alice, bob)
	orbit := park(t, "alice", ac, "pool-b")
	hearsMusic(t, "bob", bc, "pool-b")
	erin := c.phone(holdout)

	startFailback(t, c)
	phases(t, signaling.PhaseFailback, alice, bob, carol)
	hearsMusic(t, "bob", bc, "pool-b") // still parked on pool-b
	if _, err := carol.WaitCapability(step(t), signaling.ActionRetrieve, true); err != nil {
		t.Fatal(err)
	}
	erin.Close()
	phases(t, signaling.PhaseNormal, alice, bob, carol)
	hearsMusic(t, "bob", bc, "pool-b")
	still(t, "bob", bc)

	cc, err := carol.Retrieve(step(t), orbit)
	if err != nil {
		t.Fatalf("carol retrieves %s from pool-a: %v", orbit, err)
	}
	active(t, cc)
	talking(t, "bob", bc, "carol", cc)
}

// Parked during failback, its timeout: the park service on pool-b still rings the
// parker back after she has moved home, and answering connects her with the parked
// party.
func TestParkedDuringFailbackTimesOut(t *testing.T) {
	parallel(t)
	c := startCluster(t, clusterOptions{pickupB: minPickup})
	alice, bob := c.phone("alice"), c.phone("bob")
	toFailedOver(t, c, alice, bob)
	ac, bc := connectCall(t, alice, bob)
	park(t, "alice", ac, "pool-b")
	hearsMusic(t, "bob", bc, "pool-b")

	startFailback(t, c)
	phases(t, signaling.PhaseNormal, alice, bob)
	hearsMusic(t, "bob", bc, "pool-b")
	ringBack, err := alice.WaitIncoming(timeout(t, minPickup+wait))
	if err != nil {
		t.Fatalf("pool-b never rang alice back: %v", err)
	}
	if err := ringBack.Answer(step(t)); err != nil {
		t.Fatal(err)
	}
	active(t, ringBack)
	talking(t, "alice", ringBack, "bob", bc)
}

// Already retrieved, when outage occurs: it stays connected (the park service left its
// path at retrieval).
func TestRetrievedWhenOutageOccurs(t *testing.T) {
	parallel(t)
	c := startCluster(t, clusterOptions{holdoutAt: "pool-a"})
	alice, bob, carol := c.phone("alice"), c.phone("bob"), c.phone("carol")
	erin := c.phone(holdout)
	cc, bc := retrieved(t, alice, bob, carol, "pool-a")

	killed := c.kill("pool-a")
	phases(t, signaling.PhaseOutage, bob, carol, erin)
	t.Logf("pool-a killed → outage pushed: %s", since(killed))
	talking(t, "bob", bc, "carol", cc)
	still(t, "bob", bc)
	still(t, "carol", cc)
}

// Already retrieved, during failover: it stays connected through failover and its
// completion.
func TestRetrievedDuringFailover(t *testing.T) {
	parallel(t)
	c := startCluster(t, clusterOptions{})
	alice, bob, carol := c.phone("alice"), c.phone("bob"), c.phone("carol")
	cc, bc := retrieved(t, alice, bob, carol, "pool-a")

	toFailover(t, c, alice, bob, carol)
	talking(t, "bob", bc, "carol", cc)
	c.failover()
	phases(t, signaling.PhaseFailedOver, bob, carol)
	talking(t, "bob", bc, "carol", cc)
	still(t, "bob", bc)
	still(t, "carol", cc)
}

// Already retrieved, during failback: a call parked and retrieved on the backup stays
// connected through failback and after.
func TestRetrievedDuringFailback(t *testing.T) {
	parallel(t)
	c := startCluster(t, clusterOptions{holdoutAt: "pool-b"})
	alice, bob, carol := c.phone("alice"), c.phone("bob"), c.phone("carol")
	toFailedOver(t, c, alice, bob, carol)
	cc, bc := retrieved(t, alice, bob, carol, "pool-b")
	erin := c.phone(holdout)

	startFailback(t, c)
	phases(t, signaling.PhaseFailback, bob, carol)
	talking(t, "bob", bc, "carol", cc)
	erin.Close()
	phases(t, signaling.PhaseNormal, bob, carol)
	talking(t, "bob", bc, "carol", cc)
	still(t, "bob", bc)
	still(t, "carol", cc)
}

// Planned failover: the admin fails over from normal while pool-a is alive. Users move
// to pool-b in resiliency mode (no park, calls stay up), then park is served by pool-b.
func TestPlannedFailover(t *testing.T) {
	parallel(t)
	c := startCluster(t, clusterOptions{holdoutAt: "pool-a"})
	alice, bob, carol := c.phone("alice"), c.phone("bob"), c.phone("carol")
	erin := c.phone(holdout)
	ac, bc := connectCall(t, alice, bob)

	if out, err := c.dr("failover"); err != nil || !strings.Contains(out, "failover accepted: phase is now failover") {
		t.Fatalf("`parkway dr failover`: %v\n%s", err, out)
	}
	phases(t, signaling.PhaseFailover, alice, bob, carol)
	talking(t, "alice", ac, "bob", bc)
	parkRefused(t, alice, ac, signaling.ReasonParkResiliency)
	holdAndResume(t, "alice", ac)

	erin.Close()
	phases(t, signaling.PhaseFailedOver, alice, bob, carol)
	if s := c.waitStatus("failed-over", func(s dr.Snapshot) bool { return s.Phase == signaling.PhaseFailedOver }); !healthy(s, "pool-a") {
		t.Fatalf("pool-a should be alive through a planned failover: %+v", s)
	}
	talking(t, "alice", ac, "bob", bc)
	canPark(t, alice)
	orbit := park(t, "alice", ac, "pool-b")
	hearsMusic(t, "bob", bc, "pool-b")
	cc, err := carol.Retrieve(step(t), orbit)
	if err != nil {
		t.Fatal(err)
	}
	active(t, cc)
	talking(t, "bob", bc, "carol", cc)
}

// retrieved has parker call parked, park the call on pool, and retriever pick it up:
// the retriever and the parked party are then in a direct call with audio both ways.
func retrieved(t testing.TB, parker, parked, retriever *browsertest.Phone, pool string) (rc, pc *browsertest.Call) {
	t.Helper()
	ac, pc := connectCall(t, parker, parked)
	orbit := park(t, parker.User(), ac, pool)
	hearsMusic(t, parked.User(), pc, pool)
	rc, err := retriever.Retrieve(step(t), orbit)
	if err != nil {
		t.Fatalf("%s retrieves %s: %v", retriever.User(), orbit, err)
	}
	active(t, rc)
	talking(t, retriever.User(), rc, parked.User(), pc)
	return rc, pc
}

// With autoFailoverAfter and autoFailbackAfter set, no admin is needed: the outage ends
// in failed-over by itself, and a home pool healthy for long enough brings everyone
// back. The call in progress stays up throughout.
func TestAutomaticFailoverAndFailback(t *testing.T) {
	parallel(t)
	c := startCluster(t, clusterOptions{autoFailover: time.Second, autoFailback: time.Second})
	alice, bob := c.phone("alice"), c.phone("bob")
	ac, bc := connectCall(t, alice, bob)

	c.kill("pool-a")
	phases(t, signaling.PhaseFailedOver, alice, bob)
	talking(t, "alice", ac, "bob", bc)
	c.restart("pool-a")
	phases(t, signaling.PhaseNormal, alice, bob)
	talking(t, "alice", ac, "bob", bc)
	canPark(t, alice)
	park(t, "alice", ac, "pool-a")
	hearsMusic(t, "bob", bc, "pool-a")
}

// A call parked on pool-a before a planned failover stays there (pool-a is alive); if
// pool-a then dies, its parked party is hung up with the reason like any other — the
// phase does not change (users are on pool-b already), but the pool holding the call
// failed.
func TestParkedOnHomeThenHomeFailsAfterPlannedFailover(t *testing.T) {
	parallel(t)
	c := startCluster(t, clusterOptions{})
	alice, bob := c.phone("alice"), c.phone("bob")
	ac, bc := connectCall(t, alice, bob)
	park(t, "alice", ac, "pool-a")
	hearsMusic(t, "bob", bc, "pool-a")
	c.failover()
	phases(t, signaling.PhaseFailedOver, alice, bob)
	hearsMusic(t, "bob", bc, "pool-a") // still parked on pool-a, which is alive

	parkPoolKilled(t, c, "bob", bc)
}
