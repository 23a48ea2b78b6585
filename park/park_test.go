package park

import (
	"strings"
	"testing"

	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/siptest"
)

func TestParkAndRetrieve(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	events, cancel := s.Events()
	defer cancel()
	p := newParties(t)

	bp, err := parkBob(t, ctx, p, uri(s, parkwire.ParkUser))
	if err != nil {
		t.Fatal(err)
	}
	if o := bp.Header(parkwire.OrbitHeader); o != "7000" {
		t.Fatalf("orbit header %q, want 7000", o)
	}
	e := nextEvent(t, ctx, events, parkwire.StateParked)
	if e.Call.Orbit != "7000" || !strings.Contains(e.Call.ParkedBy, "alice") || !strings.Contains(e.Call.ParkedParty, "bob") {
		t.Errorf("parked event %+v", e.Call)
	}
	select {
	case m := <-p.alice.Messages():
		if string(m.Body()) != "Parked at 7000" {
			t.Errorf("parker told %q", m.Body())
		}
	case <-ctx.Done():
		t.Fatal("parker never told the orbit")
	}
	// Music on hold: pool-a's melody is 440/660 Hz.
	waitTone(t, ctx, bp.Media(), 440)
	waitTone(t, ctx, bp.Media(), 660)
	if got := s.Parked(); len(got) != 1 || got[0].Orbit != "7000" || got[0].State != parkwire.StateParked {
		t.Fatalf("Parked() = %+v", got)
	}

	// carol retrieves by dialling the orbit.
	cp, err := p.carol.Call(ctx, uri(s, "7000"))
	if err != nil {
		t.Fatal(err)
	}
	cb, err := cp.Successor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := bp.Successor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nextEvent(t, ctx, events, parkwire.StateRetrieved)
	waitTone(t, ctx, cb.Media(), bobHz)
	waitTone(t, ctx, bc.Media(), carolHz)

	// The park service is out of both paths: its dialogs are over, its
	// RTP sockets closed, and each phone hears only the other.
	<-bp.Done()
	<-cp.Done()
	waitFor(t, ctx, "park media closed", func() bool { return s.openStreams.Load() == 0 })
	waitFor(t, ctx, "park dialogs gone", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.run.legs) == 0 && len(s.run.calls) == 0
	})
	cb.Media().ResetStats()
	waitFor(t, ctx, "fresh audio", func() bool { return cb.Media().Packets() > 25 })
	for src := range cb.Media().Sources() {
		if !strings.HasPrefix(src, "127.0.0.1:") || src != bc.Media().LocalAddr().String() {
			t.Errorf("carol receives RTP from %s, want only bob's %s", src, bc.Media().LocalAddr())
		}
	}
	if len(s.Parked()) != 0 {
		t.Errorf("still parked: %+v", s.Parked())
	}
}

// A retriever without Replaces support (a SIPp script, a minimal phone)
// still gets the call: the park service re-INVITEs the parked party towards
// it, media flows directly, and the park service relays the BYE.
func TestRetrieveWithoutReplacesBridgesMedia(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	events, cancel := s.Events()
	defer cancel()
	p := newParties(t)
	plain := siptest.NewPhone(t, siptest.PhoneOptions{User: "plain", ToneHz: carolHz, NoReplaces: true})
	bp, err := parkBob(t, ctx, p, uri(s, parkwire.ParkUser))
	if err != nil {
		t.Fatal(err)
	}
	waitTone(t, ctx, bp.Media(), 440)
	cp, err := plain.Call(ctx, uri(s, "7000"))
	if err != nil {
		t.Fatal(err)
	}
	if cp.Header(parkwire.OrbitHeader) != "7000" {
		t.Errorf("orbit header %q", cp.Header(parkwire.OrbitHeader))
	}
	e := nextEvent(t, ctx, events, parkwire.StateRetrieved)
	if !strings.Contains(e.Call.RetrievedBy, "plain") {
		t.Errorf("retrieved by %q", e.Call.RetrievedBy)
	}
	waitTone(t, ctx, cp.Media(), bobHz)
	waitTone(t, ctx, bp.Media(), carolHz)
	waitFor(t, ctx, "park media closed", func() bool { return s.openStreams.Load() == 0 })
	bp.Media().ResetStats()
	waitFor(t, ctx, "fresh audio", func() bool { return bp.Media().Packets() > 25 })
	for src := range bp.Media().Sources() {
		if src != cp.Media().LocalAddr().String() {
			t.Errorf("bob receives RTP from %s, want only the retriever's %s", src, cp.Media().LocalAddr())
		}
	}
	// A session refresh from the parked side keeps media pointing at the
	// retriever, not at the park service.
	if err := bp.Reinvite(ctx); err != nil {
		t.Fatal(err)
	}
	bp.Media().ResetStats()
	cp.Media().ResetStats()
	waitTone(t, ctx, bp.Media(), carolHz)
	waitTone(t, ctx, cp.Media(), bobHz)

	if err := cp.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	<-bp.Done() // BYE relayed by the park service
	waitFor(t, ctx, "park dialogs gone", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.run.legs) == 0
	})
}

// A parked party that cannot take a REFER (Allow without REFER) is bridged
// to its retriever with two re-INVITEs; media flows directly.
func TestParkedPartyWithoutReferIsBridged(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	alice := siptest.NewPhone(t, siptest.PhoneOptions{User: "alice"})
	bob := siptest.NewPhone(t, siptest.PhoneOptions{User: "bob", ToneHz: bobHz, NoRefer: true})
	carol := siptest.NewPhone(t, siptest.PhoneOptions{User: "carol", ToneHz: carolHz})
	bp, err := bob.Call(ctx, uri(s, parkwire.ParkUser), referredByHdr(alice))
	if err != nil {
		t.Fatal(err)
	}
	waitTone(t, ctx, bp.Media(), 440)
	cp, err := carol.Call(ctx, uri(s, bp.Header(parkwire.OrbitHeader)))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "park media closed", func() bool { return s.openStreams.Load() == 0 })
	waitTone(t, ctx, cp.Media(), bobHz)
	waitTone(t, ctx, bp.Media(), carolHz)
	if err := bp.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	<-cp.Done() // BYE relayed
}

// The same park and retrieve with the parked party and the retriever on
// TCP: the park service's in-dialog requests (REFER, BYE) follow the
// transport of each dialog.
func TestParkAndRetrieveOverTCP(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	p := parties{
		alice: siptest.NewPhone(t, siptest.PhoneOptions{User: "alice", ToneHz: aliceHz}),
		bob:   siptest.NewPhone(t, siptest.PhoneOptions{User: "bob", ToneHz: bobHz, Transport: "tcp"}),
		carol: siptest.NewPhone(t, siptest.PhoneOptions{User: "carol", ToneHz: carolHz, Transport: "tcp"}),
	}
	bp, err := parkBob(t, ctx, p, uri(s, parkwire.ParkUser)+";transport=tcp")
	if err != nil {
		t.Fatal(err)
	}
	if tp := bp.Request().Transport(); tp != "TCP" {
		t.Fatalf("bob parked over %s", tp)
	}
	waitTone(t, ctx, bp.Media(), 440)
	cp, err := p.carol.Call(ctx, uri(s, "7000")+";transport=tcp")
	if err != nil {
		t.Fatal(err)
	}
	cb, err := cp.Successor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitTone(t, ctx, cb.Media(), bobHz)
	<-bp.Done()
	waitFor(t, ctx, "park idle", func() bool { return s.openStreams.Load() == 0 && len(s.Parked()) == 0 })
}
