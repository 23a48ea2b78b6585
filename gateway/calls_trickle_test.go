package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/signaling"
)

// trickleOffer makes b's offer without candidates and returns it with the candidates
// b gathers, as ice messages for ref ending with the empty one (a browser's
// onicecandidate with null).
func trickleOffer(t *testing.T, b *browser, ref string) (string, []*signaling.ICE) {
	t.Helper()
	cands := make(chan *webrtc.ICECandidate, 64)
	b.pc.OnICECandidate(func(c *webrtc.ICECandidate) { cands <- c })
	o, err := b.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	if sdpHasCandidates(o.SDP) {
		t.Fatal("the offer carries candidates")
	}
	var out []*signaling.ICE
	for {
		select {
		case c := <-cands:
			m := &signaling.ICE{Ref: ref}
			if c != nil {
				init := c.ToJSON()
				m.Candidate, m.SDPMid, m.SDPMLineIndex = init.Candidate, *init.SDPMid, init.SDPMLineIndex
			}
			out = append(out, m)
			if c == nil {
				return o.SDP, out
			}
		case <-time.After(time.Minute):
			t.Fatal("the browser never finished gathering")
		}
	}
}

// Alice's tab offers without candidates and trickles them: the gateway answers at
// once (no candidates in its answer), trickles its own to that tab with the action's
// id, ending with an empty candidate, and takes hers, including those that arrive
// before her leg exists. The call then carries audio both ways.
func TestCallsTrickleICE(t *testing.T) {
	g, poolA := callGateway(t)
	aliceWS, _ := g.connect(t, "alice")
	bobWS, _ := g.connect(t, "bob")
	ready(t, g, poolA, "alice", "bob")

	aliceTab := newBrowser(t, true)
	offer, cands := trickleOffer(t, aliceTab, "t1")
	aliceWS.send(request("t1", &signaling.Request{Action: signaling.ActionCall, Target: "bob", SDP: offer}))
	for _, c := range cands {
		// Sent right behind the offer: the first are buffered while the leg is made.
		aliceWS.send(signaling.Encode("", c))
	}

	var (
		answer  string
		callID  string
		theirs  []*signaling.ICE
		endSeen bool
	)
	for answer == "" || !endSeen {
		env, m, err := aliceWS.read()
		if err != nil {
			t.Fatal(err)
		}
		switch m := m.(type) {
		case *signaling.Call:
			if env.ID == "t1" && m.SDP != "" {
				answer, callID = m.SDP, m.ID
			}
		case *signaling.ICE:
			if answer == "" {
				t.Fatalf("candidate %+v before the answer it belongs to", m)
			}
			if m.Ref != "t1" {
				t.Fatalf("candidate for ref %q, want t1", m.Ref)
			}
			if m.Candidate == "" {
				endSeen = true
			} else {
				theirs = append(theirs, m)
			}
		case *signaling.Error:
			t.Fatalf("error %+v", m)
		}
	}
	if sdpHasCandidates(answer) {
		t.Error("the answer to a trickling offer waited for the gateway's candidates")
	}
	if len(theirs) == 0 {
		t.Fatal("the gateway trickled no candidate")
	}
	if err := aliceTab.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	for _, c := range theirs {
		mid := c.SDPMid
		if err := aliceTab.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: &mid, SDPMLineIndex: c.SDPMLineIndex}); err != nil {
			t.Fatalf("the gateway's candidate %q: %v", c.Candidate, err)
		}
	}
	select {
	case <-aliceTab.connected:
	case <-time.After(time.Minute):
		t.Fatal("alice's trickled leg never connected")
	}

	_, ringing := nextCall(t, bobWS, "bob's call to ring", func(_ signaling.Envelope, m *signaling.Call) bool { return m.State == signaling.CallRinging })
	bobTab := newBrowser(t, true)
	bobWS.send(request("a1", &signaling.Request{Action: signaling.ActionAnswer, Call: ringing.ID, SDP: bobTab.offer().SDP}))
	_, ans := nextCall(t, bobWS, "bob's answer", func(env signaling.Envelope, m *signaling.Call) bool { return env.ID == "a1" && m.SDP != "" })
	if !sdpHasCandidates(ans.SDP) {
		t.Error("the answer to a full offer has no candidates")
	}
	bobTab.answered(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.SDP})
	nextCall(t, aliceWS, "alice's call active", func(_ signaling.Envelope, m *signaling.Call) bool {
		return m.ID == callID && m.State == signaling.CallActive
	})
	aliceTab.talk(aliceHz)
	bobTab.talk(bobHz)
	waitFor(t, "alice to hear bob", func() bool { return aliceTab.heard(bobHz) })
	waitFor(t, "bob to hear alice", func() bool { return bobTab.heard(aliceHz) })

	// Once the call is over its ref takes no candidates: a late one is dropped in
	// silence, while a ref the tab never used is refused.
	aliceWS.send(request("bye", &signaling.Request{Action: signaling.ActionHangup, Call: callID}))
	ended(t, aliceWS, callID)
	aliceWS.send(signaling.Encode("late", cands[0]))
	stray := *cands[0]
	stray.Ref = "never"
	aliceWS.send(signaling.Encode("stray", &stray))
	if e := nextError(t, aliceWS); e.Code != signaling.CodeNoCall || e.Field != "ref" || e.Ref != "stray" {
		t.Fatalf("a candidate after the call, then one for an unknown ref: %+v, want no-call for the stray one only", e)
	}
}

// sdpHasCandidates reports whether an SDP carries an ICE candidate line.
func sdpHasCandidates(sdp string) bool { return strings.Contains(sdp, "a=candidate:") }
