package gateway

import (
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/signaling"
)

// DTMF can flow both ways (RFC 4733): each leg answers the browser's telephone-event
// with the browser's own payload type, and the SIP side negotiates telephone-event
// too, so each bridge knows the far end's event type. (The digits themselves are
// TestCallsSIPDTMF's.)
func TestCallsDTMFNegotiated(t *testing.T) {
	g, poolA := callGateway(t)
	aliceWS, _ := g.connect(t, "alice")
	bobWS, _ := g.connect(t, "bob")
	ready(t, g, poolA, "alice", "bob")

	aliceTab := newBrowser(t, true)
	aliceWS.send(request("d", &signaling.Request{Action: signaling.ActionCall, Target: "bob", SDP: aliceTab.offer().SDP}))
	_, dialing := nextCall(t, aliceWS, "alice's answer", func(env signaling.Envelope, m *signaling.Call) bool { return env.ID == "d" && m.SDP != "" })
	aliceTab.answered(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: dialing.SDP})
	_, ringing := nextCall(t, bobWS, "bob's call to ring", func(_ signaling.Envelope, m *signaling.Call) bool { return m.State == signaling.CallRinging })
	bobTab := newBrowser(t, true)
	bobWS.send(request("a", &signaling.Request{Action: signaling.ActionAnswer, Call: ringing.ID, SDP: bobTab.offer().SDP}))
	_, ans := nextCall(t, bobWS, "bob's answer", func(env signaling.Envelope, m *signaling.Call) bool { return env.ID == "a" && m.SDP != "" })
	bobTab.answered(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.SDP})
	nextCall(t, aliceWS, "alice's call active", func(_ signaling.Envelope, m *signaling.Call) bool {
		return m.ID == dialing.ID && m.State == signaling.CallActive
	})

	for who, sdp := range map[string]string{"alice": dialing.SDP, "bob": ans.SDP} {
		if !strings.Contains(sdp, "a=rtpmap:126 telephone-event/8000") {
			t.Errorf("%s's answer does not take the browser's telephone-event 126:\n%s", who, sdp)
		}
	}
	for who, id := range map[string]string{"alice": dialing.ID, "bob": ringing.ID} {
		r, _, ok := g.legOf(t, who, id).Bridge().Remote()
		if !ok || r.EventPT == 0 {
			t.Errorf("%s's bridge has no SIP telephone-event type: %+v", who, r)
		}
	}
}
