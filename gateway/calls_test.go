package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/pool"
	"github.com/parkway/parkway/signaling"
)

// callGateway is a gateway that carries calls: real pools, a real user agent, media
// legs on loopback.
func callGateway(t *testing.T) (*testGateway, *pool.Pool) {
	t.Helper()
	poolA, poolB := sipPools(t)
	m := sipManager(t, poolA, poolB)
	f := testFactory(t)
	g := startGateway(t, func(c *Config) { c.SIP = m; c.Media = f; c.SignOutGrace = time.Hour })
	return g, poolA
}

func request(id string, r *signaling.Request) ([]byte, error) { return signaling.Encode(id, r) }

// Alice calls bob through the real websocket: each browser's offer rides on its
// request, the gateway's answer comes back in a call message, both hear each other,
// alice holds and resumes, and hanging up ends the call in both tabs.
func TestCallsOverWebsocket(t *testing.T) {
	g, poolA := callGateway(t)
	aliceWS, _ := g.connect(t, "alice")
	bobWS, _ := g.connect(t, "bob")
	waitFor(t, "alice and bob registered", func() bool {
		return len(poolA.Contacts("alice")) > 0 && len(poolA.Contacts("bob")) > 0
	})
	// A registration is at the pool before the gateway's pump follows the user agent.
	waitFor(t, "the gateway following both user agents", func() bool {
		return g.phoneReady("alice") && g.phoneReady("bob")
	})

	aliceTab := newBrowser(t, true)
	aliceWS.send(request("call1", &signaling.Request{Action: signaling.ActionCall, Target: "bob", SDP: aliceTab.offer().SDP}))
	_, dialing := nextCall(t, aliceWS, "alice's answer SDP", func(env signaling.Envelope, m *signaling.Call) bool {
		return env.ID == "call1" && m.SDP != ""
	})
	if dialing.State != signaling.CallDialing || dialing.Direction != signaling.CallOutgoing {
		t.Fatalf("first call message %+v", dialing)
	}
	// The browser's media comes up while bob's phone still rings.
	aliceTab.answered(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: dialing.SDP})

	_, ringing := nextCall(t, bobWS, "bob's call to ring", func(_ signaling.Envelope, m *signaling.Call) bool {
		return m.State == signaling.CallRinging
	})
	// Both ends name the other by user part, as the tab shows it: not a SIP URI.
	if ringing.Direction != signaling.CallIncoming || ringing.Peer != "alice" {
		t.Fatalf("ringing %+v, want incoming from peer alice", ringing)
	}
	if dialing.Peer != "bob" {
		t.Fatalf("dialing %+v, want peer bob", dialing)
	}
	bobTab := newBrowser(t, true)
	bobWS.send(request("ans1", &signaling.Request{Action: signaling.ActionAnswer, Call: ringing.ID, SDP: bobTab.offer().SDP}))
	_, bobAnswer := nextCall(t, bobWS, "bob's answer SDP", func(env signaling.Envelope, m *signaling.Call) bool {
		return env.ID == "ans1" && m.SDP != ""
	})
	bobTab.answered(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: bobAnswer.SDP})
	nextCall(t, bobWS, "bob's call active", func(_ signaling.Envelope, m *signaling.Call) bool { return m.State == signaling.CallActive })
	nextCall(t, aliceWS, "alice's call active", func(_ signaling.Envelope, m *signaling.Call) bool {
		return m.ID == dialing.ID && m.State == signaling.CallActive
	})
	// The capabilities follow the call in focus: with an active call, Hold is enabled
	// and Answer is not. The state is pushed right after the call message.
	if st := nextState(t, aliceWS); !st.Capabilities[signaling.ActionHold].Allowed || st.Capabilities[signaling.ActionAnswer].Allowed {
		t.Fatalf("capabilities with an active call: %+v", st.Capabilities)
	}

	aliceTab.talk(aliceHz)
	bobTab.talk(bobHz)
	waitFor(t, "alice to hear bob", func() bool { return aliceTab.heard(bobHz) })
	waitFor(t, "bob to hear alice", func() bool { return bobTab.heard(aliceHz) })

	aliceWS.send(request("h1", &signaling.Request{Action: signaling.ActionHold, Call: dialing.ID}))
	nextCall(t, aliceWS, "alice's call held", func(_ signaling.Envelope, m *signaling.Call) bool { return m.State == signaling.CallHeld })
	waitFor(t, "alice's browser to go quiet while she holds", func() bool { return aliceTab.quietFor(500 * time.Millisecond) })
	aliceWS.send(request("r1", &signaling.Request{Action: signaling.ActionResume, Call: dialing.ID}))
	nextCall(t, aliceWS, "alice's call resumed", func(_ signaling.Envelope, m *signaling.Call) bool { return m.State == signaling.CallActive })
	aliceTab.forget()
	waitFor(t, "alice to hear bob after resume", func() bool { return aliceTab.heard(bobHz) })

	aliceWS.send(request("bye", &signaling.Request{Action: signaling.ActionHangup, Call: dialing.ID}))
	nextCall(t, aliceWS, "alice's call ended", func(_ signaling.Envelope, m *signaling.Call) bool { return m.State == signaling.CallEnded })
	_, ended := nextCall(t, bobWS, "bob's call ended", func(_ signaling.Envelope, m *signaling.Call) bool { return m.State == signaling.CallEnded })
	if ended.Reason == "" {
		t.Error("bob's call ended without a reason")
	}
	// An action on the call that ended is a JSON error, and the session goes on.
	aliceWS.send(request("h2", &signaling.Request{Action: signaling.ActionHold, Call: dialing.ID}))
	if e := nextError(t, aliceWS); e.Code != signaling.CodeNoCall || e.Ref != "h2" {
		t.Fatalf("hold after hangup: %+v", e)
	}
}

// Bad calls get JSON errors that say what is wrong: an offer without G.711, an unknown
// user, a call without an offer.
func TestCallsRefused(t *testing.T) {
	g, poolA := callGateway(t)
	c, _ := g.connect(t, "carol")
	waitFor(t, "carol registered", func() bool { return len(poolA.Contacts("carol")) > 0 && g.phoneReady("carol") })

	opus := newBrowser(t, false)
	c.send(request("o1", &signaling.Request{Action: signaling.ActionCall, Target: "bob", SDP: opus.offer().SDP}))
	if e := nextError(t, c); e.Code != signaling.CodeNoG711 || e.Ref != "o1" || !strings.Contains(e.Message, "offer has no G.711") {
		t.Fatalf("opus-only offer: %+v", e)
	}

	tab := newBrowser(t, true)
	c.send(request("n1", &signaling.Request{Action: signaling.ActionCall, Target: "nobody", SDP: tab.offer().SDP}))
	if e := nextError(t, c); e.Code != signaling.CodeNotFound || e.Ref != "n1" || !strings.Contains(e.Message, "not found") {
		t.Fatalf("call to an unknown user: %+v", e)
	}

	c.send(request("s1", &signaling.Request{Action: signaling.ActionCall, Target: "bob"}))
	if e := nextError(t, c); e.Code != signaling.CodeBadField || e.Field != "sdp" {
		t.Fatalf("call without an offer: %+v", e)
	}
	c.pingPong(7)
}

// phoneReady reports whether the gateway follows user's SIP agent.
func (g *testGateway) phoneReady(user string) bool {
	return g.phones.Following(user)
}

// establish has from call to over the websocket with fresh browsers and returns the
// caller's and callee's call ids and tabs, once both calls are active.
func establish(t *testing.T, from, to *client, target string) (fromID, toID string, fromTab, toTab *browser) {
	t.Helper()
	fromTab = newBrowser(t, true)
	from.send(request("dial-"+target, &signaling.Request{Action: signaling.ActionCall, Target: target, SDP: fromTab.offer().SDP}))
	_, dialing := nextCall(t, from, "the caller's answer SDP", func(env signaling.Envelope, m *signaling.Call) bool {
		return env.ID == "dial-"+target && m.SDP != ""
	})
	fromTab.answered(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: dialing.SDP})
	_, ringing := nextCall(t, to, "the callee's call to ring", func(_ signaling.Envelope, m *signaling.Call) bool {
		return m.State == signaling.CallRinging
	})
	toTab = newBrowser(t, true)
	to.send(request("ans-"+target, &signaling.Request{Action: signaling.ActionAnswer, Call: ringing.ID, SDP: toTab.offer().SDP}))
	_, ans := nextCall(t, to, "the callee's answer SDP", func(env signaling.Envelope, m *signaling.Call) bool {
		return env.ID == "ans-"+target && m.SDP != ""
	})
	toTab.answered(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.SDP})
	nextCall(t, from, "the caller's call active", func(_ signaling.Envelope, m *signaling.Call) bool {
		return m.ID == dialing.ID && m.State == signaling.CallActive
	})
	nextCall(t, to, "the callee's call active", func(_ signaling.Envelope, m *signaling.Call) bool {
		return m.ID == ringing.ID && m.State == signaling.CallActive
	})
	return dialing.ID, ringing.ID, fromTab, toTab
}

// Alice parks bob on pool-a; she is told the orbit; carol retrieves it from her tab,
// and bob and carol hear each other over bob's same browser leg (no renegotiation).
func TestCallsParkAndRetrieve(t *testing.T) {
	g, poolA := callGateway(t)
	aliceWS, _ := g.connect(t, "alice")
	bobWS, _ := g.connect(t, "bob")
	carolWS, _ := g.connect(t, "carol")
	waitFor(t, "everyone registered", func() bool {
		for _, u := range []string{"alice", "bob", "carol"} {
			if len(poolA.Contacts(u)) == 0 || !g.phoneReady(u) {
				return false
			}
		}
		return true
	})
	aliceID, bobID, _, bobTab := establish(t, aliceWS, bobWS, "bob")

	aliceWS.send(request("park", &signaling.Request{Action: signaling.ActionPark, Call: aliceID}))
	_, parked := nextCall(t, aliceWS, "alice's call parked", func(_ signaling.Envelope, m *signaling.Call) bool {
		return m.ID == aliceID && m.State == signaling.CallEnded
	})
	if parked.Reason != "parked" || !parkwire.ValidOrbit(parked.Orbit) {
		t.Fatalf("alice's parked call %+v", parked)
	}
	waitFor(t, "pool-a holds the parked call", func() bool { return len(poolA.Park().Parked()) == 1 })

	carolTab := newBrowser(t, true)
	carolWS.send(request("ret", &signaling.Request{Action: signaling.ActionRetrieve, Orbit: parked.Orbit, SDP: carolTab.offer().SDP}))
	_, dialing := nextCall(t, carolWS, "carol's answer SDP", func(env signaling.Envelope, m *signaling.Call) bool {
		return env.ID == "ret" && m.SDP != ""
	})
	carolTab.answered(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: dialing.SDP})
	nextCall(t, carolWS, "carol's retrieved call active", func(_ signaling.Envelope, m *signaling.Call) bool {
		return m.ID == dialing.ID && m.State == signaling.CallActive
	})
	carolTab.talk(aliceHz)
	bobTab.talk(bobHz)
	bobTab.forget()
	waitFor(t, "bob to hear carol", func() bool { return bobTab.heard(aliceHz) })
	waitFor(t, "carol to hear bob", func() bool { return carolTab.heard(bobHz) })
	waitFor(t, "the orbit free again", func() bool { return len(poolA.Park().Parked()) == 0 })

	bobWS.send(request("bye", &signaling.Request{Action: signaling.ActionHangup, Call: bobID}))
	nextCall(t, carolWS, "carol's call ended", func(_ signaling.Envelope, m *signaling.Call) bool { return m.State == signaling.CallEnded })
}

// Bob declines: alice's call ends with the reason, and no error is raised for it. Then
// alice calls again and hangs up while it rings: bob's ringing call ends too.
func TestCallsDeclineAndCancel(t *testing.T) {
	g, poolA := callGateway(t)
	aliceWS, _ := g.connect(t, "alice")
	bobWS, _ := g.connect(t, "bob")
	waitFor(t, "alice and bob registered", func() bool {
		return len(poolA.Contacts("alice")) > 0 && len(poolA.Contacts("bob")) > 0 && g.phoneReady("alice") && g.phoneReady("bob")
	})

	aliceTab := newBrowser(t, true)
	aliceWS.send(request("d1", &signaling.Request{Action: signaling.ActionCall, Target: "bob", SDP: aliceTab.offer().SDP}))
	_, ringing := nextCall(t, bobWS, "bob's call to ring", func(_ signaling.Envelope, m *signaling.Call) bool { return m.State == signaling.CallRinging })
	bobWS.send(request("no", &signaling.Request{Action: signaling.ActionDecline, Call: ringing.ID}))
	_, ended := nextCall(t, aliceWS, "alice's call declined", func(_ signaling.Envelope, m *signaling.Call) bool { return m.State == signaling.CallEnded })
	if ended.Reason != "declined" {
		t.Fatalf("alice's call ended %+v, want declined", ended)
	}
	nextCall(t, bobWS, "bob's call ended", func(_ signaling.Envelope, m *signaling.Call) bool {
		return m.ID == ringing.ID && m.State == signaling.CallEnded
	})

	again := newBrowser(t, true)
	aliceWS.send(request("d2", &signaling.Request{Action: signaling.ActionCall, Target: "bob", SDP: again.offer().SDP}))
	_, dialing := nextCall(t, aliceWS, "alice's second call", func(env signaling.Envelope, m *signaling.Call) bool { return env.ID == "d2" && m.SDP != "" })
	_, ringing = nextCall(t, bobWS, "bob's second call to ring", func(_ signaling.Envelope, m *signaling.Call) bool { return m.State == signaling.CallRinging })
	aliceWS.send(request("x", &signaling.Request{Action: signaling.ActionHangup, Call: dialing.ID}))
	nextCall(t, bobWS, "bob's ringing call cancelled", func(_ signaling.Envelope, m *signaling.Call) bool {
		return m.ID == ringing.ID && m.State == signaling.CallEnded
	})
	nextCall(t, aliceWS, "alice's call ended", func(_ signaling.Envelope, m *signaling.Call) bool {
		return m.ID == dialing.ID && m.State == signaling.CallEnded
	})
	// No error came for the decline or the cancel: the next error is the one asked for.
	aliceWS.send(request("h", &signaling.Request{Action: signaling.ActionHold, Call: "gone"}))
	if e := nextError(t, aliceWS); e.Ref != "h" || e.Code != signaling.CodeNoCall {
		t.Fatalf("error %+v, want the no-call for h", e)
	}
}

// Bob has two tabs: both ring; the one that answers gets the SDP answer, the other
// only the call's states, and both see it end.
func TestCallsTwoTabs(t *testing.T) {
	g, poolA := callGateway(t)
	aliceWS, _ := g.connect(t, "alice")
	bob1, _ := g.connect(t, "bob")
	bob2, _ := g.connect(t, "bob")
	waitFor(t, "alice and bob registered", func() bool {
		return len(poolA.Contacts("alice")) > 0 && len(poolA.Contacts("bob")) > 0 && g.phoneReady("alice") && g.phoneReady("bob")
	})
	aliceTab := newBrowser(t, true)
	aliceWS.send(request("d", &signaling.Request{Action: signaling.ActionCall, Target: "bob", SDP: aliceTab.offer().SDP}))
	_, r1 := nextCall(t, bob1, "tab 1 rings", func(_ signaling.Envelope, m *signaling.Call) bool { return m.State == signaling.CallRinging })
	_, r2 := nextCall(t, bob2, "tab 2 rings", func(_ signaling.Envelope, m *signaling.Call) bool { return m.State == signaling.CallRinging })
	if r1.ID != r2.ID {
		t.Fatalf("the tabs ring different calls: %s, %s", r1.ID, r2.ID)
	}
	tab2 := newBrowser(t, true)
	bob2.send(request("a", &signaling.Request{Action: signaling.ActionAnswer, Call: r2.ID, SDP: tab2.offer().SDP}))
	nextCall(t, bob2, "tab 2's answer SDP", func(env signaling.Envelope, m *signaling.Call) bool { return env.ID == "a" && m.SDP != "" })
	_, active := nextCall(t, bob1, "tab 1 sees the call active", func(_ signaling.Envelope, m *signaling.Call) bool {
		if m.SDP != "" {
			t.Fatalf("tab 1 got tab 2's SDP answer: %+v", m)
		}
		return m.State == signaling.CallActive
	})
	bob1.send(request("x", &signaling.Request{Action: signaling.ActionHangup, Call: active.ID}))
	nextCall(t, bob2, "tab 2 sees it end", func(_ signaling.Envelope, m *signaling.Call) bool { return m.State == signaling.CallEnded })
	nextCall(t, aliceWS, "alice's call ended", func(_ signaling.Envelope, m *signaling.Call) bool { return m.State == signaling.CallEnded })
}

// ready waits until every user is registered at p and followed by the gateway.
func ready(t *testing.T, g *testGateway, p *pool.Pool, users ...string) {
	t.Helper()
	waitFor(t, strings.Join(users, ", ")+" registered", func() bool {
		for _, u := range users {
			if len(p.Contacts(u)) == 0 || !g.phoneReady(u) {
				return false
			}
		}
		return true
	})
}

// ended waits for the call id to end in c and returns its message.
func ended(t *testing.T, c *client, id string) *signaling.Call {
	t.Helper()
	_, m := nextCall(t, c, "call "+id+" to end", func(_ signaling.Envelope, m *signaling.Call) bool {
		return m.ID == id && m.State == signaling.CallEnded
	})
	return m
}
