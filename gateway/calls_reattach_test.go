package gateway

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/media"
	"github.com/parkway/parkway/signaling"
)

// reattachCall is alice talking with bob through a gateway whose calls get 30 s for
// a tab to come back, with hold music so the far end can be heard to hear it; the
// sign-out grace is far shorter, so a call that waits must keep its user registered
// itself.
type reattachCall struct {
	g                *testGateway
	aliceWS, bobWS   *client
	aliceID, bobID   string
	aliceTab, bobTab *browser
}

func newReattachCall(t *testing.T) *reattachCall {
	t.Helper()
	poolA, poolB := sipPools(t)
	m := sipManager(t, poolA, poolB)
	f := testFactory(t)
	r := &reattachCall{g: startGateway(t, func(c *Config) {
		c.SIP, c.Media = m, f
		c.SignOutGrace = 300 * time.Millisecond
		c.ReattachGrace, c.ReattachHold = 30*time.Second, media.HoldMusic
	})}
	r.aliceWS, _ = r.g.connect(t, "alice")
	r.bobWS, _ = r.g.connect(t, "bob")
	ready(t, r.g, poolA, "alice", "bob")
	r.aliceID, r.bobID, r.aliceTab, r.bobTab = establish(t, r.aliceWS, r.bobWS, "bob")
	r.aliceTab.talk(aliceHz)
	r.bobTab.talk(bobHz)
	waitFor(t, "alice to hear bob", func() bool { return r.aliceTab.heard(bobHz) })
	return r
}

// takeMedia sends a media action for call id with tb's offer on c and applies the
// gateway's answer.
func takeMedia(t *testing.T, c *client, tb *browser, ref, id string) *signaling.Call {
	t.Helper()
	c.send(request(ref, &signaling.Request{Action: signaling.ActionMedia, Call: id, SDP: tb.offer().SDP}))
	_, m := nextCall(t, c, "the answer to "+ref, func(env signaling.Envelope, m *signaling.Call) bool {
		return env.ID == ref && m.SDP != ""
	})
	if m.ID != id || m.Media != signaling.MediaHere {
		t.Fatalf("the answer to %s is %+v, want call %s with its media here", ref, m, id)
	}
	tb.answered(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP})
	return m
}

// Issue 10 item 1: bob's tab reloads mid-call. His old page (websocket and
// PeerConnection) is gone; alice hears the hold music meanwhile; his new page's
// welcome lists the call as needing media, it re-attaches with a new PeerConnection
// and a media action, and both hear each other again — on the same SIP call, which
// alice never saw end, though the user's sign-out grace passed meanwhile.
func TestCallsReattachAfterReload(t *testing.T) {
	r := newReattachCall(t)
	g, aliceWS, bobWS, aliceID, bobID, aliceTab, bobTab := r.g, r.aliceWS, r.bobWS, r.aliceID, r.bobID, r.aliceTab, r.bobTab

	bobWS.conn.CloseNow()
	bobTab.close()
	waitFor(t, "alice to hear the hold music while bob's page is away", func() bool { return aliceTab.heard(media.HoldMusicHz) })
	time.Sleep(600 * time.Millisecond) // past the sign-out grace: the call keeps bob registered

	again, w := connectWelcome(t, g, "bob")
	if !slices.Equal(w.Calls, []string{bobID}) || !slices.Equal(w.NeedsMedia, []string{bobID}) {
		t.Fatalf("the new page's welcome lists calls %q needing media %q, want [%s] both", w.Calls, w.NeedsMedia, bobID)
	}
	_, listed := nextCall(t, again, "the call in the greeting", func(_ signaling.Envelope, m *signaling.Call) bool { return m.ID == bobID })
	if listed.State != signaling.CallActive || listed.Media != signaling.MediaNeeded {
		t.Fatalf("the greeting's call %+v, want active, media needed", listed)
	}
	const newHz = 770
	bobTab2 := newBrowser(t, true)
	takeMedia(t, again, bobTab2, "m1", bobID)
	bobTab2.talk(newHz)
	aliceTab.forget()
	waitFor(t, "alice to hear bob's new page", func() bool { return aliceTab.heard(newHz) })
	waitFor(t, "bob's new page to hear alice", func() bool { return bobTab2.heard(aliceHz) })

	again.send(request("bye", &signaling.Request{Action: signaling.ActionHangup, Call: bobID}))
	if m := ended(t, aliceWS, aliceID); m.Reason != "hung up" {
		t.Fatalf("alice's call first ended %q, want bob's hang-up only", m.Reason)
	}
}

// "Move here": bob's second tab takes the call from his first, which hears the call
// is elsewhere now; alice hears the second tab, not the first, which still sends.
func TestCallsMoveHere(t *testing.T) {
	r := newReattachCall(t)
	g, bobWS, bobID, aliceTab := r.g, r.bobWS, r.bobID, r.aliceTab

	second, _ := g.connect(t, "bob")
	_, listed := nextCall(t, second, "the call in the second tab's greeting", func(_ signaling.Envelope, m *signaling.Call) bool { return m.ID == bobID })
	if listed.Media != signaling.MediaElsewhere {
		t.Fatalf("the second tab sees the call's media %q, want elsewhere", listed.Media)
	}
	const newHz = 770
	bobTab2 := newBrowser(t, true)
	takeMedia(t, second, bobTab2, "move", bobID)
	bobTab2.talk(newHz)
	nextCall(t, bobWS, "the first tab to hear the call moved", func(_ signaling.Envelope, m *signaling.Call) bool {
		return m.ID == bobID && m.Media == signaling.MediaElsewhere
	})
	aliceTab.forget()
	waitFor(t, "alice to hear bob's second tab", func() bool { return aliceTab.heard(newHz) })
	waitFor(t, "bob's second tab to hear alice", func() bool { return bobTab2.heard(aliceHz) })
	aliceTab.forget()
	waitFor(t, "alice to hear the second tab again", func() bool { return aliceTab.heard(newHz) })
	if aliceTab.heard(bobHz) {
		t.Fatal("alice still hears bob's first tab")
	}
}

// Issue 10 item 2: an ICE restart from the tab's own PeerConnection is answered on
// the same leg — no hand-over, the far end notices nothing — and audio flows on.
func TestCallsICERestart(t *testing.T) {
	r := newReattachCall(t)
	g, bobWS, bobID, aliceTab, bobTab := r.g, r.bobWS, r.bobID, r.aliceTab, r.bobTab
	leg := g.phones.Leg("bob", bobID)
	before := leg.PeerConnection().RemoteDescription().SDP

	offer, err := bobTab.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(bobTab.pc)
	if err := bobTab.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	bobWS.send(request("restart", &signaling.Request{Action: signaling.ActionMedia, Call: bobID, SDP: bobTab.pc.LocalDescription().SDP}))
	_, m := nextCall(t, bobWS, "the restart's answer", func(env signaling.Envelope, m *signaling.Call) bool {
		return env.ID == "restart" && m.SDP != ""
	})
	bobTab.answered(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP})
	if g.phones.Leg("bob", bobID) != leg {
		t.Fatal("the ICE restart handed the call to a new leg")
	}
	if after := leg.PeerConnection().RemoteDescription().SDP; after == before {
		t.Fatal("the leg did not take the restart's offer")
	}
	aliceTab.forget()
	bobTab.forget()
	waitFor(t, "alice to hear bob after the restart", func() bool { return aliceTab.heard(bobHz) })
	waitFor(t, "bob to hear alice after the restart", func() bool { return bobTab.heard(aliceHz) })
}
