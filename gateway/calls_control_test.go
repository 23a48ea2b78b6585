package gateway

import (
	"testing"
	"time"

	"github.com/parkway/parkway/media"
	"github.com/parkway/parkway/signaling"
)

// Alice mutes her call to bob: the gateway stops forwarding her audio, so bob stops
// hearing her tone while she still hears his; both of her tabs are told. Unmuting
// brings her audio back on the same legs.
func TestCallsMute(t *testing.T) {
	g, poolA := callGateway(t)
	aliceWS, _ := g.connect(t, "alice")
	alice2, _ := g.connect(t, "alice")
	bobWS, _ := g.connect(t, "bob")
	ready(t, g, poolA, "alice", "bob")
	aliceID, _, aliceTab, bobTab := establish(t, aliceWS, bobWS, "bob")
	aliceTab.talk(aliceHz)
	bobTab.talk(bobHz)
	waitFor(t, "bob to hear alice", func() bool { return bobTab.heard(aliceHz) })

	muted := true
	aliceWS.send(request("m1", &signaling.Request{Action: signaling.ActionMute, Call: aliceID, Muted: &muted}))
	_, m := nextCall(t, aliceWS, "the mute's answer", func(env signaling.Envelope, m *signaling.Call) bool { return env.ID == "m1" })
	if !m.Muted || m.State != signaling.CallActive || m.ID != aliceID {
		t.Fatalf("after mute: %+v", m)
	}
	nextCall(t, alice2, "alice's other tab told", func(_ signaling.Envelope, m *signaling.Call) bool { return m.ID == aliceID && m.Muted })
	waitFor(t, "bob to hear nothing from muted alice", func() bool { return bobTab.quietFor(500 * time.Millisecond) })
	aliceTab.forget()
	waitFor(t, "muted alice to still hear bob", func() bool { return aliceTab.heard(bobHz) })
	if st := g.legOf(t, "alice", aliceID).Bridge().Stats(); st.GatedToSIP == 0 {
		t.Errorf("alice's bridge dropped nothing while muted: %+v", st)
	}

	muted = false
	aliceWS.send(request("m2", &signaling.Request{Action: signaling.ActionMute, Call: aliceID, Muted: &muted}))
	_, m = nextCall(t, aliceWS, "the unmute's answer", func(env signaling.Envelope, m *signaling.Call) bool { return env.ID == "m2" })
	if m.Muted {
		t.Fatalf("after unmute: %+v", m)
	}
	nextCall(t, alice2, "alice's other tab told", func(_ signaling.Envelope, m *signaling.Call) bool { return m.ID == aliceID && !m.Muted })
	bobTab.forget()
	waitFor(t, "bob to hear alice again", func() bool { return bobTab.heard(aliceHz) })
}

// legOf is the media leg of user's call id.
func (g *testGateway) legOf(t *testing.T, user, id string) *media.Leg {
	t.Helper()
	leg := g.phones.Leg(user, id)
	if leg == nil {
		t.Fatalf("%s has no call %s with media", user, id)
	}
	return leg
}

// Alice talks to bob, consults carol, then transfers bob to carol (REFER with
// Replaces): both of alice's calls end with "transferred", and bob and carol hear each
// other over the legs they already had.
func TestCallsAttendedTransfer(t *testing.T) {
	g, poolA := callGateway(t)
	aliceWS, _ := g.connect(t, "alice")
	bobWS, _ := g.connect(t, "bob")
	carolWS, _ := g.connect(t, "carol")
	ready(t, g, poolA, "alice", "bob", "carol")
	aliceBob, bobID, _, bobTab := establish(t, aliceWS, bobWS, "bob")
	aliceWS.send(request("h", &signaling.Request{Action: signaling.ActionHold, Call: aliceBob}))
	nextCall(t, aliceWS, "bob held", func(_ signaling.Envelope, m *signaling.Call) bool {
		return m.ID == aliceBob && m.State == signaling.CallHeld
	})
	consult, carolID, _, carolTab := establish(t, aliceWS, carolWS, "carol")

	aliceWS.send(request("x", &signaling.Request{Action: signaling.ActionTransfer, Call: aliceBob, Consult: consult}))
	left := map[string]bool{aliceBob: true, consult: true}
	for len(left) > 0 {
		_, m := nextCall(t, aliceWS, "both of alice's calls to end", func(_ signaling.Envelope, m *signaling.Call) bool {
			return left[m.ID] && m.State == signaling.CallEnded
		})
		delete(left, m.ID)
		if m.Reason != "transferred" {
			t.Errorf("alice's call %s ended %q, want transferred", m.ID, m.Reason)
		}
	}
	bobTab.talk(bobHz)
	carolTab.talk(aliceHz)
	bobTab.forget()
	carolTab.forget()
	waitFor(t, "bob to hear carol", func() bool { return bobTab.heard(aliceHz) })
	waitFor(t, "carol to hear bob", func() bool { return carolTab.heard(bobHz) })

	// bob's and carol's calls are the ones they had: hanging one up ends the other.
	bobWS.send(request("bye", &signaling.Request{Action: signaling.ActionHangup, Call: bobID}))
	ended(t, carolWS, carolID)
}

// Each bad input gets its own precise error and the session carries on: a consult
// call that does not exist, mute without muted, a candidate for an unknown ref.
func TestCallsControlErrors(t *testing.T) {
	g, poolA := callGateway(t)
	aliceWS, _ := g.connect(t, "alice")
	bobWS, _ := g.connect(t, "bob")
	ready(t, g, poolA, "alice", "bob")
	aliceID, _, _, _ := establish(t, aliceWS, bobWS, "bob")

	aliceWS.send(request("c1", &signaling.Request{Action: signaling.ActionTransfer, Call: aliceID, Consult: "nosuchcall"}))
	if e := nextError(t, aliceWS); e.Code != signaling.CodeNoCall || e.Field != "consult" || e.Ref != "c1" {
		t.Fatalf("unknown consult: %+v", e)
	}
	alive(t, aliceWS, 1)

	aliceWS.sendRaw([]byte(`{"v":1,"type":"action","id":"m1","data":{"action":"mute","call":"` + aliceID + `"}}`))
	if e := nextError(t, aliceWS); e.Code != signaling.CodeBadField || e.Field != "muted" || e.Ref != "m1" {
		t.Fatalf("mute without muted: %+v", e)
	}
	alive(t, aliceWS, 2)

	aliceWS.send(signaling.Encode("i1", &signaling.ICE{Ref: "never-sent", Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host"}))
	if e := nextError(t, aliceWS); e.Code != signaling.CodeNoCall || e.Field != "ref" || e.Ref != "i1" {
		t.Fatalf("ice for an unknown ref: %+v", e)
	}
	alive(t, aliceWS, 3)

	// The call is untouched by all this.
	muted := true
	aliceWS.send(request("m2", &signaling.Request{Action: signaling.ActionMute, Call: aliceID, Muted: &muted}))
	nextCall(t, aliceWS, "mute after the errors", func(env signaling.Envelope, m *signaling.Call) bool {
		return env.ID == "m2" && m.Muted && m.State == signaling.CallActive
	})
}
