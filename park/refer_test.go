package park

import (
	"strings"
	"testing"

	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/sip/transfer"
	"github.com/parkway/parkway/siptest"
)

// Park by REFER to the park service: alice asks the service to take over
// her call with bob (Refer-To bob with Replaces), bob's phone swaps alice
// for the park service, then carol retrieves as usual.
func TestParkByReferToService(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	events, cancel := s.Events()
	defer cancel()
	p := newParties(t)
	got := answerNext(t, ctx, p.bob)
	ab, err := p.alice.Call(ctx, p.bob.URI())
	if err != nil {
		t.Fatal(err)
	}
	ba := <-got
	rep := ab.Replaces()
	sub, err := p.alice.ReferOut(ctx, uri(s, "7005"), transfer.FormatReferTo(ab.RemoteTarget(), &rep))
	if err != nil {
		t.Fatal(err)
	}
	if o := sub.Response.GetHeader(parkwire.OrbitHeader); o == nil || o.Value() != "7005" {
		t.Fatalf("202 orbit header %v", o)
	}
	if code, err := sub.TransferResult(ctx); err != nil || code != 200 {
		t.Fatalf("transfer result %d %v", code, err)
	}
	<-ab.Done() // bob ended the replaced dialog with alice
	bp, err := ba.Successor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := nextEvent(t, ctx, events, parkwire.StateParked)
	if e.Call.Orbit != "7005" || !strings.Contains(e.Call.ParkedBy, "alice") || !strings.Contains(e.Call.ParkedParty, "bob") {
		t.Errorf("parked %+v", e.Call)
	}
	waitTone(t, ctx, bp.Media(), 440)

	cp, err := p.carol.Call(ctx, uri(s, "7005"))
	if err != nil {
		t.Fatal(err)
	}
	cb, err := cp.Successor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nextEvent(t, ctx, events, parkwire.StateRetrieved)
	waitTone(t, ctx, cb.Media(), bobHz)
	waitFor(t, ctx, "park idle", func() bool { return s.openStreams.Load() == 0 && len(s.Parked()) == 0 })
}

func TestParkByReferRefusals(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	p := newParties(t)
	if _, err := parkBob(t, ctx, p, uri(s, "7005")); err != nil {
		t.Fatal(err)
	}
	dave := siptest.NewPhone(t, siptest.PhoneOptions{User: "dave"})
	target := "<" + p.carol.URI() + ">"
	_, err := dave.ReferOut(ctx, uri(s, "7005"), target)
	expectAnswer(t, err, ErrOrbitInUse)
	_, err = dave.ReferOut(ctx, uri(s, "9005"), target)
	expectAnswer(t, err, ErrOrbitNotFound)
	if _, err := dave.ReferOut(ctx, uri(s, parkwire.ParkUser), "<tel:+1>"); siptest.Status(err) != 400 {
		t.Errorf("bad Refer-To: %v, want 400", err)
	}
	s.Drain()
	_, err = dave.ReferOut(ctx, uri(s, parkwire.ParkUser), target)
	expectAnswer(t, err, ErrDraining)
}

// A Replaces that matches nothing at the parked party's phone fails the
// park and frees the orbit; the parker learns it from the sipfrag.
func TestParkByReferStaleReplaces(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	p := newParties(t)
	bad := transfer.Replaces{CallID: "gone", ToTag: "x", FromTag: "y"}
	sub, err := p.alice.ReferOut(ctx, uri(s, parkwire.ParkUser), transfer.FormatReferTo(p.bob.ContactURI(), &bad))
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := sub.TransferResult(ctx); code != 481 {
		t.Fatalf("transfer result %d, want 481", code)
	}
	waitFor(t, ctx, "orbit freed", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.run.calls) == 0 && !s.run.orbits.Claimed("7000")
	})
}

// Parked by REFER (the park service called the parked party) and unable to
// take a REFER itself: a Replaces-capable retriever is bridged by
// re-INVITEs on both of the service's legs.
func TestParkedByReferWithoutReferIsBridged(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	alice := siptest.NewPhone(t, siptest.PhoneOptions{User: "alice", ToneHz: aliceHz})
	bob := siptest.NewPhone(t, siptest.PhoneOptions{User: "bob", ToneHz: bobHz, NoRefer: true})
	carol := siptest.NewPhone(t, siptest.PhoneOptions{User: "carol", ToneHz: carolHz})
	got := answerNext(t, ctx, bob)
	ab, err := alice.Call(ctx, bob.URI())
	if err != nil {
		t.Fatal(err)
	}
	ba := <-got
	rep := ab.Replaces()
	sub, err := alice.ReferOut(ctx, uri(s, parkwire.ParkUser), transfer.FormatReferTo(ab.RemoteTarget(), &rep))
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := sub.TransferResult(ctx); code != 200 {
		t.Fatalf("park by REFER: %d", code)
	}
	bp, err := ba.Successor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := carol.Call(ctx, uri(s, "7000"))
	if err != nil {
		t.Fatal(err)
	}
	waitTone(t, ctx, cp.Media(), bobHz)
	waitTone(t, ctx, bp.Media(), carolHz)
	waitFor(t, ctx, "park media closed", func() bool { return s.openStreams.Load() == 0 })
	if err := cp.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	<-bp.Done() // relayed BYE
}
