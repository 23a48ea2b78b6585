package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/signaling"
)

// listed is the call parked at orbit in l, nil when it is not there.
func listed(l *signaling.Parked, orbit string) *signaling.ParkedCall {
	for i := range l.Calls {
		if l.Calls[i].Orbit == orbit {
			return &l.Calls[i]
		}
	}
	return nil
}

// The story's failback (ARCHITECTURE.md §2: a call parked during failed-over "stays parked
// on the backup pool and can be retrieved" during failback): pool-a dies, everyone
// moves to pool-b, alice parks bob there; pool-a comes back and everyone goes home.
// The list every tab gets still holds bob's call, on pool-b, while the list's pool is
// pool-a again; carol, home at pool-a, retrieves it from the list and it empties.
// Pool-a's own park service is listed again too: a call parked there after failback
// shows up beside it.
func TestCallsParkedListKeepsBackupCallsAfterFailback(t *testing.T) {
	t.Parallel()
	g, poolA := callGateway(t)
	aliceWS, _ := g.connect(t, "alice")
	bobWS, _ := g.connect(t, "bob")
	carolWS, _ := g.connect(t, "carol")
	daveWS, _ := g.connect(t, "dave")
	ready(t, g, poolA, "alice", "bob", "carol", "dave")
	g.ctl.setPools(map[string]bool{"pool-a": true, "pool-b": true})
	nextParked(t, carolWS, "the first list", func(p *signaling.Parked) bool { return p.Pool == "pool-a" && len(p.Calls) == 0 })

	// Outage and failover: pool-a dies, users move to pool-b.
	if err := poolA.Stop(); err != nil {
		t.Fatal(err)
	}
	g.ctl.setPools(map[string]bool{"pool-b": true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := g.cfg.SIP.Redirect(ctx, "pool-b"); err != nil {
		t.Fatal(err)
	}
	g.ctl.set(signaling.PhaseFailedOver)
	nextParked(t, carolWS, "pool-b's list", func(p *signaling.Parked) bool { return p.Pool == "pool-b" })

	// Failed-over: alice parks bob on pool-b.
	aliceID, _, _, bobTab := establish(t, aliceWS, bobWS, "bob")
	aliceWS.send(request("park", &signaling.Request{Action: signaling.ActionPark, Call: aliceID}))
	orbit := ended(t, aliceWS, aliceID).Orbit
	if len(orbit) != 4 || orbit[:2] != "80" {
		t.Fatalf("parked in failed-over at orbit %q, want 8000–8099 (pool-b)", orbit)
	}
	nextParked(t, carolWS, "bob parked on pool-b", func(p *signaling.Parked) bool {
		c := listed(p, orbit)
		return p.Pool == "pool-b" && c != nil && c.Pool == "pool-b"
	})

	// Pool-a is back; failback, then normal. It runs until the test's cleanup stops it,
	// not until ctx ends: the gateway's own cleanup still unsubscribes there (a pool
	// stopped first made that wait out the request timeout, 10 s, and its un-REGISTERs
	// 10 s more).
	if err := poolA.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.ctl.setPools(map[string]bool{"pool-a": true, "pool-b": true})
	g.ctl.set(signaling.PhaseFailback)
	if err := g.cfg.SIP.Redirect(ctx, "pool-a"); err != nil {
		t.Fatal(err)
	}
	g.ctl.set(signaling.PhaseNormal)
	ready(t, g, poolA, "alice", "bob", "carol", "dave")
	l := nextParked(t, carolWS, "the list after failback", func(p *signaling.Parked) bool { return p.Pool == "pool-a" })
	if c := listed(l, orbit); c == nil || c.Pool != "pool-b" || c.Peer != "bob" || c.ParkedBy != "alice" || c.State != "parked" {
		t.Fatalf("the list after failback %+v, want bob parked by alice at %s on pool-b", l, orbit)
	}
	if l := feedList(t, g); listed(l, orbit) == nil {
		t.Fatalf("the list offered to tabs after failback %+v lacks %s", l, orbit)
	}
	// A tab that connects now learns it too.
	tab2, _ := g.connect(t, "bob") // a second tab of bob's
	if l := nextParked(t, tab2, "a new tab's list", func(*signaling.Parked) bool { return true }); listed(l, orbit) == nil || listed(l, orbit).Pool != "pool-b" {
		t.Fatalf("a new tab's list after failback %+v", l)
	}

	// Pool-a's park service is followed again: dave parks alice there.
	daveID, _, _, _ := establish(t, daveWS, aliceWS, "alice")
	daveWS.send(request("park", &signaling.Request{Action: signaling.ActionPark, Call: daveID}))
	orbitA := ended(t, daveWS, daveID).Orbit
	l = nextParked(t, carolWS, "both parked calls", func(p *signaling.Parked) bool { return listed(p, orbitA) != nil })
	if c := listed(l, orbitA); c.Pool != "pool-a" || listed(l, orbit) == nil {
		t.Fatalf("the list with a call parked on each pool %+v, want %s on pool-a and %s on pool-b", l, orbitA, orbit)
	}

	// Carol, at pool-a, retrieves bob from the backup.
	carolTab := newBrowser(t, true)
	carolWS.send(request("ret", &signaling.Request{Action: signaling.ActionRetrieve, Orbit: orbit, SDP: carolTab.offer().SDP}))
	_, dialing := nextCall(t, carolWS, "carol's answer SDP", func(env signaling.Envelope, m *signaling.Call) bool { return env.ID == "ret" && m.SDP != "" })
	carolTab.answered(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: dialing.SDP})
	nextCall(t, carolWS, "carol's retrieved call active", func(_ signaling.Envelope, m *signaling.Call) bool {
		return m.ID == dialing.ID && m.State == signaling.CallActive
	})
	l = nextParked(t, carolWS, "bob's orbit empty again", func(p *signaling.Parked) bool { return listed(p, orbit) == nil })
	if len(l.Calls) != 1 || l.Calls[0].Orbit != orbitA {
		t.Fatalf("the list after the retrieve %+v, want only %s", l, orbitA)
	}
	bobTab.forget()
	carolTab.talk(aliceHz)
	waitFor(t, "bob to hear carol", func() bool { return bobTab.heard(aliceHz) })
}
