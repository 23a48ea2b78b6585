package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/signaling"
)

// Carol, a third user, sees the parked-calls list live: empty at first, alice's
// parked call to bob (orbit, who, parked by, times), empty again once she retrieves
// it. A tab that connects meanwhile gets the list right after its welcome and state.
// When the users move to pool-b the list is pool-b's.
func TestCallsParkedList(t *testing.T) {
	g, poolA := callGateway(t)
	aliceWS, _ := g.connect(t, "alice")
	bobWS, _ := g.connect(t, "bob")
	carolWS, _ := g.connect(t, "carol")
	ready(t, g, poolA, "alice", "bob", "carol")
	nextParked(t, carolWS, "the first list", func(p *signaling.Parked) bool { return p.Pool == "pool-a" && len(p.Calls) == 0 })

	aliceID, _, _, bobTab := establish(t, aliceWS, bobWS, "bob")
	before := time.Now()
	aliceWS.send(request("park", &signaling.Request{Action: signaling.ActionPark, Call: aliceID}))
	orbit := ended(t, aliceWS, aliceID).Orbit
	l := nextParked(t, carolWS, "bob's call parked", func(p *signaling.Parked) bool { return len(p.Calls) == 1 })
	pc := l.Calls[0]
	if l.Pool != "pool-a" || pc.Orbit != orbit || pc.Peer != "bob" || pc.ParkedBy != "alice" || pc.State != "parked" {
		t.Fatalf("parked list %+v, want bob parked by alice at %s on pool-a", l, orbit)
	}
	if since := time.UnixMilli(pc.Since); since.Before(before.Add(-time.Second)) || pc.Expires <= pc.Since {
		t.Errorf("since %v, expires %v", since, time.UnixMilli(pc.Expires))
	}

	// A new tab learns it after welcome and state.
	dave, _ := g.connect(t, "dave")
	for {
		_, m, err := dave.read()
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := m.(*signaling.Parked); ok {
			if len(p.Calls) != 1 || p.Calls[0].Orbit != orbit {
				t.Fatalf("a new tab's list %+v", p)
			}
			break
		}
		if _, ok := m.(*signaling.State); !ok {
			t.Fatalf("a new tab got %T before its parked list", m)
		}
	}

	carolTab := newBrowser(t, true)
	carolWS.send(request("ret", &signaling.Request{Action: signaling.ActionRetrieve, Orbit: orbit, SDP: carolTab.offer().SDP}))
	_, dialing := nextCall(t, carolWS, "carol's answer SDP", func(env signaling.Envelope, m *signaling.Call) bool { return env.ID == "ret" && m.SDP != "" })
	carolTab.answered(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: dialing.SDP})
	nextParked(t, carolWS, "the orbit empty again", func(p *signaling.Parked) bool { return len(p.Calls) == 0 })
	bobTab.forget()
	carolTab.talk(aliceHz)
	waitFor(t, "bob to hear carol", func() bool { return bobTab.heard(aliceHz) })

	// Failover moves every user agent and the one watcher to pool-b.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := g.cfg.SIP.Redirect(ctx, "pool-b"); err != nil {
		t.Fatal(err)
	}
	nextParked(t, dave, "pool-b's list", func(p *signaling.Parked) bool { return p.Pool == "pool-b" && len(p.Calls) == 0 })
}

// After a real failover — pool-a dead, everyone moved to pool-b — the list is
// pool-b's, without first waiting on the dead pool to take the unsubscribe.
func TestCallsParkedListAfterPoolDies(t *testing.T) {
	t.Parallel()
	g, poolA := callGateway(t)
	c, _ := g.connect(t, "carol")
	ready(t, g, poolA, "carol")
	nextParked(t, c, "pool-a's list", func(p *signaling.Parked) bool { return p.Pool == "pool-a" })
	poolA.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	if err := g.cfg.SIP.Redirect(ctx, "pool-b"); err != nil {
		t.Fatal(err)
	}
	nextParked(t, c, "pool-b's list", func(p *signaling.Parked) bool { return p.Pool == "pool-b" })
	t.Logf("pool-b's list %v after the move began", time.Since(start).Round(time.Millisecond))
}
