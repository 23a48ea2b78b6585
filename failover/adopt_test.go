package failover

import (
	"context"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/parkway/parkway/browsertest"
	"github.com/parkway/parkway/signaling"
)

// Issue #11 item 5 with real processes: a call survives the SIGKILL of its gateway.
// Three `parkway gateway` processes with clustered embedded NATS, two pools; alice's
// tab is on the victim, bob's on another. The victim's successor (the next gateway by
// name) adopts alice's call from the dialog record the victim wrote to JetStream: a
// re-INVITE in the same dialog moves bob's RTP to the successor's bridge. alice's tab,
// reconnecting to the successor with the same session token, finds the call needing
// media and re-attaches it with a new PeerConnection; audio flows both ways again and
// bob's call never ended.

// recorded is the victim's log line once alice's dialog is in the cluster.
var recorded = regexp.MustCompile(`call recorded for adoption.*user=alice`)

// surviveGatewayKill runs the scenario on g and returns the time from the SIGKILL to
// audio heard both ways on the adopted call.
func surviveGatewayKill(t testing.TB, g *threeGateways, victim, successor, bobAt string) time.Duration {
	t.Helper()
	alice := g.phoneOn(victim, "alice")
	bob := g.phoneOn(bobAt, "bob")
	ac, bc := connectCall(t, alice, bob)
	g.procs[victim].waitLine(t, recorded)

	killed := g.kill(victim)
	// The client tries the next gateway of its list with the token it has.
	alice2 := g.phoneWith(successor, "alice", g.token("alice"))
	// The survivors adopt once the cluster's NATS takes writes again: a gateway's death
	// can stall its Raft groups for their election (clusterWait's comment).
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	adopted, err := alice2.WaitNeedsMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if adopted.ID != ac.ID {
		t.Fatalf("the adopted call is %s; alice's call was %s", adopted.ID, ac.ID)
	}
	if err := adopted.TakeMedia(step(t)); err != nil {
		t.Fatalf("alice's tab re-attaches the adopted call on %s: %v", successor, err)
	}
	talking(t, "alice", adopted, "bob", bc)
	took := time.Since(killed)
	if slices.Contains(bc.History(), signaling.CallEnded) {
		t.Fatalf("bob's call ended on the way: %v", bc.History())
	}
	if s := adopted.Last().State; s != signaling.CallActive {
		t.Fatalf("the adopted call is %s, want active", s)
	}
	// The adopted call is the successor's now: hold and hang-up go through it.
	holdAndResume(t, "alice", adopted)
	if err := adopted.Hangup(step(t)); err != nil {
		t.Fatal(err)
	}
	ended(t, "bob", bc, "hung up")
	return took
}

// phoneOn signs user in on gateway name (demo sign-in) and waits until it is registered.
func (g *threeGateways) phoneOn(name, user string) *browsertest.Phone {
	g.t.Helper()
	return g.phoneWith(name, user, "")
}

// phoneWith is phoneOn with a session token (empty: demo sign-in).
func (g *threeGateways) phoneWith(name, user, token string) *browsertest.Phone {
	g.t.Helper()
	p, err := browsertest.Connect(step(g.t), g.urls[name], user, &browsertest.Options{Hz: hz[user], Token: token})
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(p.Close)
	if err := p.WaitReady(step(g.t)); err != nil {
		g.t.Fatal(err)
	}
	return p
}

// TestCallSurvivesGatewayKill: gw1 dies under alice's call to bob (on gw3); gw2 carries
// it on and alice's tab re-attaches there.
func TestCallSurvivesGatewayKill(t *testing.T) {
	// Not parallel: beside the other tests it once missed its call's media on a quiet
	// machine (alice "waiting for a call that needs media", gw2's JetStream not answering
	// yet), in 1 of 6 runs of the package; alone it has not.
	g := startThreeGateways(t)
	took := surviveGatewayKill(t, g, "gw1", "gw2", "gw3")
	t.Logf("gw1 SIGKILLed → call adopted by gw2 and audio back both ways in %v (noisy shared machine)", took.Round(time.Millisecond))
}

// BenchmarkGatewayKillAdoption: gateway SIGKILLed → its call adopted by another and
// audio heard both ways again (the tab reconnects at once, as the client does with
// its next gateway URL). Each iteration starts its own three gateways and two pools
// (not timed); p50-ms is the median of the iterations: run -benchtime 5x for five.
func BenchmarkGatewayKillAdoption(b *testing.B) {
	var each []time.Duration
	for range b.N {
		b.StopTimer()
		g := startThreeGateways(b)
		b.StartTimer()
		each = append(each, surviveGatewayKill(b, g, "gw1", "gw2", "gw3"))
		b.StopTimer()
		g.stopAll()
	}
	slices.Sort(each)
	b.ReportMetric(float64(each[(len(each)-1)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(each[len(each)-1].Microseconds())/1000, "max-ms")
}
