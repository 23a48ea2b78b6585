package gateway

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/signaling"
)

// A websocket cut does not drop the call (issue 6 item 5): alice's tab loses its
// websocket for 3 s mid-call, well inside the sign-out grace; her call with bob stays
// up, and the tab that reconnects gets, after welcome and state, the call as it is
// (no SDP), with audio still flowing both ways on the same PeerConnection, and can
// hang it up.
func TestCallsReconnectKeepsCall(t *testing.T) {
	poolA, poolB := sipPools(t)
	m := sipManager(t, poolA, poolB)
	f := testFactory(t)
	// The real grace, not callGateway's hour: the cut must be survived by design.
	g := startGateway(t, func(c *Config) { c.SIP = m; c.Media = f; c.SignOutGrace = DefaultSignOutGrace })
	aliceWS, _ := g.connect(t, "alice")
	bobWS, _ := g.connect(t, "bob")
	ready(t, g, poolA, "alice", "bob")
	aliceID, bobID, aliceTab, bobTab := establish(t, aliceWS, bobWS, "bob")
	aliceTab.talk(aliceHz)
	bobTab.talk(bobHz)
	waitFor(t, "alice to hear bob", func() bool { return aliceTab.heard(bobHz) })
	waitFor(t, "bob to hear alice", func() bool { return bobTab.heard(aliceHz) })

	aliceWS.conn.CloseNow()
	time.Sleep(3 * time.Second)
	aliceTab.forget()
	waitFor(t, "alice to hear bob with her websocket gone", func() bool { return aliceTab.heard(bobHz) })

	again, w := connectWelcome(t, g, "alice")
	if !slices.Equal(w.Calls, []string{aliceID}) {
		t.Fatalf("the reconnected tab's welcome lists calls %q, want [%s]", w.Calls, aliceID)
	}
	var got *signaling.Call
	for got == nil {
		_, m, err := again.read()
		if err != nil {
			t.Fatal(err)
		}
		switch m := m.(type) {
		case *signaling.Call:
			got = m
		case *signaling.State:
		default:
			t.Fatalf("the reconnected tab got %T %+v before its call", m, m)
		}
	}
	if got.ID != aliceID || got.State != signaling.CallActive || got.SDP != "" || got.Direction != signaling.CallOutgoing {
		t.Fatalf("the reconnected tab's call %+v, want %s active, outgoing, no SDP", got, aliceID)
	}
	if s := aliceTab.pc.ConnectionState(); s != webrtc.PeerConnectionStateConnected {
		t.Fatalf("alice's PeerConnection is %s", s)
	}
	aliceTab.forget()
	bobTab.forget()
	waitFor(t, "alice to hear bob after reconnecting", func() bool { return aliceTab.heard(bobHz) })
	waitFor(t, "bob to hear alice after she reconnected", func() bool { return bobTab.heard(aliceHz) })

	again.send(request("bye", &signaling.Request{Action: signaling.ActionHangup, Call: aliceID}))
	ended(t, again, aliceID)
	ended(t, bobWS, bobID)

	// With the call over, a new tab's welcome lists no call.
	if _, w := connectWelcome(t, g, "alice"); len(w.Calls) != 0 {
		t.Fatalf("a welcome after the call ended lists %q", w.Calls)
	}
}

// connectWelcome dials and authenticates as user, and returns the welcome; the state
// and what follows are left to read.
func connectWelcome(t *testing.T, g *testGateway, user string) (*client, *signaling.Welcome) {
	t.Helper()
	c, _, err := g.dial(t, "")
	if err != nil {
		t.Fatal(err)
	}
	c.send(signaling.Encode("a1", &signaling.Auth{Token: g.signIn(t, user)}))
	w := expect[*signaling.Welcome](c)
	if w.User != user || w.Session == "" {
		t.Fatalf("welcome %+v", w)
	}
	return c, w
}

// A call whose tab is gone, websocket and media, ends once the re-attach grace is
// over (issue 10; before it, the sign-out grace ended it as "signed out"), and the far
// end hears why in the BYE's Reason header, which its user agent reads into the call's
// end; the user's sign-out follows the sign-out grace after that.
func TestCallsEndAfterSignOutGrace(t *testing.T) {
	poolA, poolB := sipPools(t)
	m := sipManager(t, poolA, poolB)
	f := testFactory(t)
	g := startGateway(t, func(c *Config) {
		c.SIP = m
		c.Media = f
		c.SignOutGrace = 500 * time.Millisecond
		c.ReattachGrace = time.Second
	})
	aliceWS, _ := g.connect(t, "alice")
	bobWS, _ := g.connect(t, "bob")
	ready(t, g, poolA, "alice", "bob")
	_, bobID, aliceTab, _ := establish(t, aliceWS, bobWS, "bob")
	aliceWS.conn.CloseNow()
	aliceTab.close()
	if m := ended(t, bobWS, bobID); m.Reason != signaling.ReasonBrowserGone {
		t.Errorf("bob's call ended %q, want %q", m.Reason, signaling.ReasonBrowserGone)
	}
	waitFor(t, "alice to be signed out after her call ended", func() bool {
		n, pending := g.phones.Registration("alice")
		return n == 0 && !pending
	})
}
