package media

import (
	"testing"
	"time"
)

func TestRewriterFollowsOneInput(t *testing.T) {
	r := newRewriter()
	s0, t0, first := r.rewrite(1, 100, 1000, false, false, 0)
	if !first {
		t.Fatal("first packet not flagged")
	}
	// Gaps in the input (loss) stay gaps in the output.
	s1, t1, first := r.rewrite(1, 102, 1320, false, false, int64(40*time.Millisecond))
	if first || s1-s0 != 2 || t1-t0 != 320 {
		t.Fatalf("got seq +%d ts +%d first=%v, want +2 +320 false", s1-s0, t1-t0, first)
	}
}

func TestRewriterNewInputFollowsOn(t *testing.T) {
	r := newRewriter()
	var seq uint16
	var ts uint32
	for i := range 50 {
		seq, ts, _ = r.rewrite(7, uint16(65500+i), uint32(4294960000+160*i), false, false, int64(i)*int64(20*time.Millisecond))
	}
	// A new far end, wildly different numbers, 20 ms later: next packet.
	at := int64(50) * int64(20*time.Millisecond)
	s, x, first := r.rewrite(9, 3, 77, false, false, at)
	if !first || s != seq+1 || x-ts != 160 {
		t.Fatalf("after switch: seq %d (want %d) ts +%d (want 160) first=%v", s, seq+1, x-ts, first)
	}
	// Then 2 s of silence, and the same far end again but forced (a
	// re-INVITE to the same source): the timestamp covers the real gap.
	s2, x2, first := r.rewrite(9, 4, 237, false, true, at+int64(2*time.Second))
	if !first || s2 != s+1 || x2-x != 16000 {
		t.Fatalf("after 2 s rebase: seq +%d ts +%d first=%v, want +1 +16000 true", s2-s, x2-x, first)
	}
}

func TestRewriterEventsDoNotMoveTheClock(t *testing.T) {
	r := newRewriter()
	_, ts, _ := r.rewrite(1, 1, 1000, false, false, 0)
	// An event starting later carries its start timestamp in every packet.
	for i := range 6 {
		_, ets, _ := r.rewrite(1, uint16(2+i), 1160, true, false, int64(i)*int64(20*time.Millisecond))
		if ets != ts+160 {
			t.Fatalf("event packet %d: ts %d, want %d", i, ets, ts+160)
		}
	}
	if r.lastTS != ts {
		t.Fatal("event packets advanced the audio clock")
	}
}

func TestRewriterIgnoresReorderForContinuation(t *testing.T) {
	r := newRewriter()
	r.rewrite(1, 10, 1600, false, false, 0)
	hi, _, _ := r.rewrite(1, 12, 1920, false, false, 1)
	r.rewrite(1, 11, 1760, false, false, 2) // late
	s, _, _ := r.rewrite(2, 500, 0, false, false, 3)
	if s != hi+1 {
		t.Fatalf("after reorder and switch: seq %d, want %d", s, hi+1)
	}
}
