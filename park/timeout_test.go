package park

import (
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/siptest"
)

// shortTimers makes the pickup timeout and each ring-back short; tests still
// wait for events, not for these durations.
func shortTimers() Options {
	return Options{TestPickupTimeout: 200 * time.Millisecond, RingTimeout: 300 * time.Millisecond}
}

func TestTimeoutRingsBackNTimesThenDisconnects(t *testing.T) {
	ctx := testCtx(t)
	cfg := defaultConfig()
	cfg.MaxPickupAttempts = 3
	s := startService(t, cfg, shortTimers())
	events, cancel := s.Events()
	defer cancel()
	p := newParties(t)
	bp, err := parkBob(t, ctx, p, uri(s, parkwire.ParkUser))
	if err != nil {
		t.Fatal(err)
	}
	// alice lets every ring-back ring out.
	rings := 0
	for rings < 3 {
		select {
		case c := <-p.alice.Incoming():
			rings++
			if from := c.Request().From(); from == nil || !strings.Contains(from.DisplayName, "7000") {
				t.Errorf("ring-back From %v does not name the orbit", from)
			}
			<-c.Done() // cancelled by the park service
		case <-ctx.Done():
			t.Fatalf("only %d ring-backs", rings)
		}
	}
	e := nextEvent(t, ctx, events, parkwire.StateTimedOut)
	if e.Call.Attempts != 3 {
		t.Errorf("attempts = %d, want 3", e.Call.Attempts)
	}
	<-bp.Done()
	if r := bp.EndReason(); !strings.Contains(r, "cause=408") || !strings.Contains(r, "Park time expired") {
		t.Errorf("parked party's BYE reason %q", r)
	}
	select {
	case c := <-p.alice.Incoming():
		t.Errorf("a 4th ring-back arrived: %s", c.CallID())
	default:
	}
	waitFor(t, ctx, "orbit free", func() bool { return len(s.Parked()) == 0 && s.openStreams.Load() == 0 })
}

// answerable keeps the pickup timeout short but lets ring-backs ring long
// enough that a loaded machine never races the answer against the give-up.
func answerable() Options {
	o := shortTimers()
	o.RingTimeout = 20 * time.Second
	return o
}

func TestRingBackAnsweredConnectsParkerAndParked(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), answerable())
	events, cancel := s.Events()
	defer cancel()
	p := newParties(t)
	bp, err := parkBob(t, ctx, p, uri(s, parkwire.ParkUser))
	if err != nil {
		t.Fatal(err)
	}
	nextEvent(t, ctx, events, parkwire.StateRingingBack)
	ring := <-p.alice.Incoming()
	if err := ring.Answer(ctx); err != nil {
		t.Fatal(err)
	}
	ab, err := ring.Successor(ctx) // bob's INVITE with Replaces
	if err != nil {
		t.Fatal(err)
	}
	ba, err := bp.Successor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := nextEvent(t, ctx, events, parkwire.StateRetrieved)
	if !strings.Contains(e.Reason, "answered") {
		t.Errorf("reason %q", e.Reason)
	}
	waitTone(t, ctx, ab.Media(), bobHz)
	waitTone(t, ctx, ba.Media(), aliceHz)
	waitFor(t, ctx, "park out of the path", func() bool { return s.openStreams.Load() == 0 })
}

func TestOnTimeoutURI(t *testing.T) {
	ctx := testCtx(t)
	p := newParties(t)
	operator := siptest.NewPhone(t, siptest.PhoneOptions{User: "operator", ToneHz: 2000})
	cfg := defaultConfig()
	cfg.OnTimeoutURI = operator.URI()
	s := startService(t, cfg, answerable())
	events, cancel := s.Events()
	defer cancel()
	bp, err := parkBob(t, ctx, p, uri(s, parkwire.ParkUser))
	if err != nil {
		t.Fatal(err)
	}
	// The parker declines the single ring-back...
	ring := <-p.alice.Incoming()
	if err := ring.Reject(ctx, 486, "Busy Here"); err != nil {
		t.Fatal(err)
	}
	// ...so the operator gets the call.
	var op *siptest.Call
	select {
	case op = <-operator.Incoming():
	case <-ctx.Done():
		t.Fatal("on-timeout URI never called")
	}
	if err := op.Answer(ctx); err != nil {
		t.Fatal(err)
	}
	ob, err := op.Successor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := nextEvent(t, ctx, events, parkwire.StateRetrieved)
	if !strings.Contains(e.Reason, "operator") || e.Call.Attempts != 1 {
		t.Errorf("event %+v", e)
	}
	waitTone(t, ctx, ob.Media(), bobHz)
	<-bp.Done()
}

func TestRetrieveWhileRingingBack(t *testing.T) {
	ctx := testCtx(t)
	opt := shortTimers()
	opt.RingTimeout = time.Minute // alice's phone rings until the retrieve cancels it
	s := startService(t, defaultConfig(), opt)
	events, cancel := s.Events()
	defer cancel()
	p := newParties(t)
	if _, err := parkBob(t, ctx, p, uri(s, parkwire.ParkUser)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, ctx, events, parkwire.StateRingingBack)
	var ring interface{ Done() <-chan struct{} }
	select {
	case ring = <-p.alice.Incoming():
	case <-ctx.Done():
		t.Fatal("no ring-back reached alice before the test's deadline")
	}
	cp, err := p.carol.Call(ctx, uri(s, "7000"))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ring.Done(): // the ring-back was cancelled
	case <-ctx.Done():
		t.Fatal("alice's ring-back was not cancelled by carol's retrieve before the test's deadline")
	}
	cb, err := cp.Successor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nextEvent(t, ctx, events, parkwire.StateRetrieved)
	waitTone(t, ctx, cb.Media(), bobHz)
}
