package gateway

import (
	"fmt"
	"testing"

	"github.com/parkway/parkway/signaling"
)

// A tab trickles its candidates for a call until it hears how the call went: those
// sent for a call the gateway refused are dropped in silence, so the refusal is the
// one error the tab gets for it (playwright errors.spec.ts shows it as the call's
// error). A ref the tab never used is still refused.
func TestCallsRefusedCallDropsItsCandidates(t *testing.T) {
	g, poolA := callGateway(t)
	c, _ := g.connect(t, "alice")
	ready(t, g, poolA, "alice")

	tab := newBrowser(t, true)
	offer, cands := trickleOffer(t, tab, "n1")
	c.send(request("n1", &signaling.Request{Action: signaling.ActionCall, Target: "nobody", SDP: offer}))
	if e := nextError(t, c); e.Code != signaling.CodeNotFound || e.Ref != "n1" {
		t.Fatalf("the call to nobody: %+v, want not-found for n1", e)
	}
	for i, cand := range cands {
		c.send(signaling.Encode(fmt.Sprint("late", i), cand))
	}
	c.send(signaling.Encode("stray", &signaling.ICE{Ref: "never", Candidate: cands[0].Candidate, SDPMid: cands[0].SDPMid, SDPMLineIndex: cands[0].SDPMLineIndex}))
	// Frames are taken in order: the first error after the late candidates is the
	// stray one's.
	if e := nextError(t, c); e.Code != signaling.CodeNoCall || e.Field != "ref" || e.Ref != "stray" {
		t.Fatalf("after the refused call's candidates: %+v, want no-call (ref) for the stray candidate", e)
	}
	alive(t, c, 1)
}
