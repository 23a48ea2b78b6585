package phone

import (
	"fmt"
	"testing"

	"github.com/parkway/parkway/gateway/edge"
	"github.com/parkway/parkway/signaling"
)

// bareTab is a phone with one tab and no SIP: enough for its ref bookkeeping.
func bareTab() (*phone, *edge.Session) {
	p := &phones{users: map[string]*phone{}}
	p.parked = &parkedFeed{p: p, sent: map[*edge.Session]uint64{}}
	ph := &phone{p: p, name: "alice", sessions: map[*edge.Session]struct{}{}, calls: map[string]*callEntry{}, refs: map[refKey]*iceRef{}, finished: map[*edge.Session][]string{}}
	s := new(edge.Session)
	ph.sessions[s] = struct{}{}
	return ph, s
}

// The buffer for candidates that arrive before their leg is bounded, and refs are
// per tab: another tab's action id is unknown here.
func TestTrickleBuffer(t *testing.T) {
	ph, s := bareTab()
	other := new(edge.Session)
	ph.openRef(s, "r1")
	cand := &signaling.ICE{Ref: "r1", Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host"}
	for i := range maxPendingCandidates {
		if e := ph.addCandidate(s, cand); e != nil {
			t.Fatalf("candidate %d: %+v", i, e)
		}
	}
	if e := ph.addCandidate(s, cand); e == nil || e.Code != signaling.CodeBadField || e.Field != "candidate" {
		t.Fatalf("candidate past the bound: %+v", e)
	}
	if e := ph.addCandidate(other, cand); e == nil || e.Code != signaling.CodeNoCall || e.Field != "ref" {
		t.Fatalf("another tab's ref: %+v", e)
	}
	// The tab leaving drops what it had pending.
	ph.leave(s)
	ph.mu.Lock()
	n := len(ph.refs)
	ph.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d refs left after the tab left", n)
	}
}

// Finished refs are remembered per tab and bounded: the last maxFinishedRefs.
func TestFinishedRefsAreBounded(t *testing.T) {
	ph, s := bareTab()
	for i := range maxFinishedRefs + 1 {
		ref := fmt.Sprint("r", i)
		ph.openRef(s, ref)
		ph.finishRef(s, ref)
	}
	ph.mu.Lock()
	n := len(ph.finished[s])
	ph.mu.Unlock()
	if n != maxFinishedRefs {
		t.Fatalf("%d finished refs kept, want %d", n, maxFinishedRefs)
	}
	if ph.finishedRef(s, "r0") || !ph.finishedRef(s, "r1") || !ph.finishedRef(s, fmt.Sprint("r", maxFinishedRefs)) {
		t.Fatal("the oldest finished ref should be forgotten first")
	}
	ph.leave(s)
	if ph.finishedRef(s, "r1") {
		t.Fatal("a tab that left keeps its finished refs")
	}
}
