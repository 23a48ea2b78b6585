package softphone

import (
	"testing"
	"time"

	"github.com/parkway/parkway/signaling"
)

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func push(l *CallList, id string, s signaling.CallState, peer string, at time.Time) {
	l.Update(&signaling.Call{ID: id, State: s, Peer: peer, SDP: "v=0"}, at)
}

func TestFocusIsTheNewestLiveCallUnlessTheUserChoseOne(t *testing.T) {
	var l CallList
	if f := l.Focus(); f != "" {
		t.Fatalf("no calls: focus %q", f)
	}
	push(&l, "c1", signaling.CallActive, "carol", t0)
	push(&l, "c2", signaling.CallRinging, "bob", t0)
	if f := l.Focus(); f != "c2" {
		t.Fatalf("a new call takes the focus: got %q", f)
	}
	if !l.Choose("c1") || l.Focus() != "c1" {
		t.Fatalf("choosing c1: focus %q", l.Focus())
	}
	push(&l, "c2", signaling.CallRinging, "", t0) // an update of a known call keeps the choice
	if l.Focus() != "c1" {
		t.Fatalf("an update moved the focus to %q", l.Focus())
	}
	push(&l, "c1", signaling.CallEnded, "", t0)
	if l.Focus() != "c2" {
		t.Fatalf("the chosen call ended: focus %q, want c2", l.Focus())
	}
	if l.Choose("c1") {
		t.Fatal("an ended call cannot be chosen")
	}
	push(&l, "c3", signaling.CallDialing, "dave", t0)
	if l.Focus() != "c3" {
		t.Fatalf("new call c3: focus %q", l.Focus())
	}
	if c := l.Get("c2"); c.Peer != "bob" || c.SDP != "" {
		t.Fatalf("update kept peer %q and dropped SDP %q", c.Peer, c.SDP)
	}
}

func TestEndedCallsAreTrimmed(t *testing.T) {
	var l CallList
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		push(&l, id, signaling.CallEnded, "x", t0)
	}
	push(&l, "live", signaling.CallActive, "x", t0)
	if len(l.Calls) != keepEnded+1 || l.Get("a") != nil || l.Get("e") == nil {
		t.Fatalf("kept %d calls", len(l.Calls))
	}
}

func TestTransferPlan(t *testing.T) {
	var l CallList
	if _, ok := l.PlanTransfer(""); ok {
		t.Fatal("no calls: no transfer")
	}
	push(&l, "c1", signaling.CallActive, "bob", t0)
	p, ok := l.PlanTransfer("")
	if ok {
		t.Fatalf("one call, no target: %+v", p)
	}
	p, ok = l.PlanTransfer("7000")
	if !ok || p.Call != "c1" || p.Target != "7000" || p.Consult != "" || p.Describe != "Blind transfer of bob to 7000" {
		t.Fatalf("blind: %+v %v", p, ok)
	}
	push(&l, "c1", signaling.CallHeld, "", t0)
	push(&l, "c2", signaling.CallActive, "carol", t0)
	p, ok = l.PlanTransfer("")
	if !ok || p.Call != "c1" || p.Consult != "c2" || p.Target != "" {
		t.Fatalf("attended: %+v %v", p, ok)
	}
	if p.Describe != "Attended transfer: connect bob with carol" {
		t.Fatalf("attended describe %q", p.Describe)
	}
	// A target typed wins: a blind transfer of the focus call (the newest, c2).
	p, ok = l.PlanTransfer("dave")
	if !ok || p.Call != "c2" || p.Target != "dave" || p.Consult != "" {
		t.Fatalf("blind with two calls: %+v %v", p, ok)
	}
	// Two held calls and no connected one: which to connect is not clear.
	push(&l, "c2", signaling.CallHeld, "", t0)
	if p, ok := l.PlanTransfer(""); ok {
		t.Fatalf("two held: %+v", p)
	}
}

func TestTimers(t *testing.T) {
	cases := map[time.Duration]string{
		0:                              "0:00",
		-time.Second:                   "0:00",
		999 * time.Millisecond:         "0:00",
		time.Second:                    "0:01",
		59 * time.Second:               "0:59",
		61 * time.Second:               "1:01",
		10*time.Minute + 5*time.Second: "10:05",
		time.Hour + 2*time.Minute + 3*time.Second: "1:02:03",
	}
	for d, want := range cases {
		if got := elapsed(d); got != want {
			t.Errorf("elapsed(%v) = %q, want %q", d, got, want)
		}
	}
	var l CallList
	push(&l, "c", signaling.CallDialing, "bob", t0)
	c := l.Get("c")
	if got := c.TimerText(t0.Add(5 * time.Second)); got != "" {
		t.Fatalf("a call not yet connected shows %q", got)
	}
	push(&l, "c", signaling.CallActive, "", t0.Add(10*time.Second))
	if got := c.TimerText(t0.Add(75 * time.Second)); got != "1:05" {
		t.Fatalf("connected 65 s: %q", got)
	}
	push(&l, "c", signaling.CallHeld, "", t0.Add(20*time.Second)) // hold keeps the clock
	push(&l, "c", signaling.CallEnded, "", t0.Add(130*time.Second))
	if got := c.TimerText(t0.Add(time.Hour)); got != "2:00" {
		t.Fatalf("ended call shows its length: %q", got)
	}
}

func TestDisplayPeer(t *testing.T) {
	cases := map[string]string{
		"bob":                            "bob",
		"sip:carol@pool-a":               "carol",
		"SIP:carol@pool-a;transport=tcp": "carol",
		"sips:dave@example.com":          "dave",
		"tel:+15551234;phone-context=x":  "+15551234",
		`"Carol" <sip:carol@pool-a>`:     "carol",
		"7001":                           "7001",
		"":                               "",
	}
	for in, want := range cases {
		if got := DisplayPeer(in); got != want {
			t.Errorf("displayPeer(%q) = %q, want %q", in, got, want)
		}
	}
}

// A reconnect's welcome lists the calls the gateway still carries: the tab ends the
// others at once, and keeps the listed ones as they were, for their call messages.
func TestReconcileEndsTheCallsTheWelcomeDoesNotList(t *testing.T) {
	var l CallList
	push(&l, "kept", signaling.CallActive, "bob", t0)
	push(&l, "gone", signaling.CallHeld, "carol", t0)
	push(&l, "old", signaling.CallEnded, "dave", t0)
	gone := l.Reconcile([]string{"kept", "unknown"}, t0.Add(time.Minute))
	if len(gone) != 1 || gone[0] != "gone" {
		t.Fatalf("reconcile ended %q, want [gone]", gone)
	}
	if c := l.Get("gone"); c.State != signaling.CallEnded || c.Reason != endedWhileDown || c.ended.IsZero() {
		t.Fatalf("the call the welcome did not list: %+v", c)
	}
	if c := l.Get("kept"); c.State != signaling.CallActive || c.Reason != "" {
		t.Fatalf("the listed call: %+v", c)
	}
	if l.Get("unknown") != nil {
		t.Fatal("a listed call the tab never had is added before its call message")
	}
	if l.Get("old").Reason != "" {
		t.Fatal("an ended call was ended again")
	}
	if gone := l.Reconcile(nil, t0); len(gone) != 1 || gone[0] != "kept" {
		t.Fatalf("an empty list ends every live call: %q", gone)
	}
}
