package edge

import (
	"testing"

	"github.com/parkway/parkway/signaling"
)

func TestOutboxKeepsEveryPhaseButCoalescesWithinOne(t *testing.T) {
	o := newOutbox(4)
	o.setState(2, signaling.PhaseNormal, []byte("normal-1"))
	o.setState(3, signaling.PhaseNormal, []byte("normal-2"))
	o.setState(4, signaling.PhaseOutage, []byte("outage"))
	o.setState(5, signaling.PhaseFailover, []byte("failover"))
	o.setState(4, signaling.PhaseNormal, []byte("stale")) // an older generation is dropped
	states, _ := o.take()
	var got []string
	for _, s := range states {
		got = append(got, string(s.frame))
	}
	want := []string{"normal-2", "outage", "failover"}
	if len(got) != len(want) {
		t.Fatalf("pending %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("pending %q, want %q", got, want)
		}
	}
	if states, _ := o.take(); len(states) != 0 {
		t.Fatalf("take did not empty the outbox: %d left", len(states))
	}
}

func TestOutboxBoundsPendingStates(t *testing.T) {
	o := newOutbox(4)
	for i := 0; i < 3*maxPendingStates; i++ {
		p := signaling.Phases[i%len(signaling.Phases)]
		o.setState(uint64(i+2), p, []byte(p))
	}
	states, _ := o.take()
	if len(states) != maxPendingStates {
		t.Fatalf("%d pending, want the cap %d", len(states), maxPendingStates)
	}
	last := signaling.Phases[(3*maxPendingStates-1)%len(signaling.Phases)]
	if states[len(states)-1].phase != last {
		t.Fatalf("newest pending is %s, want %s", states[len(states)-1].phase, last)
	}
}

// TestOutboxLeavesStatesBehindRepliesToTheWriter: a fan-out worker takes the pending
// states only when nothing must be written before them: no reply queued or being
// written, no close asked for.
func TestOutboxLeavesStatesBehindRepliesToTheWriter(t *testing.T) {
	o := newOutbox(4)
	o.queueState(2, signaling.PhaseOutage, []byte("outage"))
	if o.offer([]byte("welcome")) {
		t.Fatal("a queue of 4 was full")
	}
	if _, ok := o.takeStates(); ok {
		t.Fatal("a worker took a state queued behind a reply")
	}
	<-o.replies // the writer takes the reply: still due until written
	if _, ok := o.takeStates(); ok {
		t.Fatal("a worker took a state while the reply before it was being written")
	}
	o.written()
	states, ok := o.takeStates()
	if !ok || len(states) != 1 || string(states[0].frame) != "outage" {
		t.Fatalf("with nothing before it: %q %v", states, ok)
	}
	o.queueState(3, signaling.PhaseFailover, []byte("failover"))
	o.close(closeRequest{code: 1008, reason: "test"})
	if _, ok := o.takeStates(); ok {
		t.Fatal("a worker took a state with a close asked for")
	}
}

// take reuses the slice it returned the time before (outbox.spare): what a taker holds
// stays intact until the next take, and every take returns exactly what was pending.
func TestOutboxTakeReusesTheSpareSlice(t *testing.T) {
	o := newOutbox(4)
	o.setState(2, signaling.PhaseNormal, []byte("normal"))
	o.setState(3, signaling.PhaseOutage, []byte("outage"))
	first, _ := o.take()
	o.setState(4, signaling.PhaseFailover, []byte("failover"))
	if len(first) != 2 || string(first[0].frame) != "normal" || string(first[1].frame) != "outage" {
		t.Fatalf("first take changed by a later state: %q", first)
	}
	second, ok := o.takeStates()
	if !ok || len(second) != 1 || string(second[0].frame) != "failover" {
		t.Fatalf("second take %q %v, want failover", second, ok)
	}
	o.setState(5, signaling.PhaseNormal, []byte("normal-again"))
	if string(second[0].frame) != "failover" {
		t.Fatalf("second take changed by a later state: %q", second)
	}
	if third, _ := o.take(); len(third) != 1 || string(third[0].frame) != "normal-again" {
		t.Fatalf("third take %q, want normal-again", third)
	}
}
