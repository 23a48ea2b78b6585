package ua

import (
	"testing"
	"time"

	"github.com/parkway/parkway/pool"
	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/siptest"
)

// TestBlindTransfer: alice talks to bob and blind-transfers him to carol; bob's call
// follows the REFER on the same MediaLeg and ends up talking to carol.
func TestBlindTransfer(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	m := newManager(t, ps.config(demoUsers))
	ctx := testCtx(t)
	alice, bob, ac, bc, _, bl := callPair(t, m)
	carol := signIn(t, m, "carol")
	cl := newTestLeg(t, 880)
	go func() {
		in := nextIncoming(t, carol)
		if _, err := in.Answer(ctx, cl); err != nil {
			t.Errorf("carol answers: %v", err)
		}
	}()
	if err := ac.Transfer(ctx, "carol"); err != nil {
		t.Fatalf("Transfer: %v", err)
	}
	nextEvent(t, alice, signaling.CallEnded, "transferred")
	nextEvent(t, bob, signaling.CallActive, "transferred")
	eventually(t, "bob's leg points at carol", func() bool {
		rs := bl.Remotes()
		return len(rs) == 2 && rs[1] == cl.LocalRTP()
	})
	eventually(t, "carol hears bob", func() bool { return cl.From(bl.LocalRTP()) > 10 })
	eventually(t, "bob hears carol", func() bool { return bl.From(cl.LocalRTP()) > 10 })
	if bc.State() != signaling.CallActive || ac.State() != signaling.CallEnded {
		t.Fatalf("bob %s alice %s", bc.State(), ac.State())
	}
	_ = bc.Hangup(ctx)
	e := nextEvent(t, carol, signaling.CallEnded, "")
	if e.Reason != "hung up" {
		t.Fatalf("carol's end reason %q", e.Reason)
	}
}

// TestBlindTransferToBusy: the target declines; the transfer fails and the call stays.
func TestBlindTransferFails(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	m := newManager(t, ps.config(demoUsers))
	ctx := testCtx(t)
	_, _, ac, bc, al, bl := callPair(t, m)
	if err := ac.Transfer(ctx, "nobody"); err == nil {
		t.Fatal("transfer to nobody succeeded")
	}
	if ac.State() != signaling.CallActive || bc.State() != signaling.CallActive {
		t.Fatalf("after a failed transfer: %s %s", ac.State(), bc.State())
	}
	n := al.From(bl.LocalRTP())
	eventually(t, "still talking", func() bool { return al.From(bl.LocalRTP()) > n+10 })
	_ = ac.Hangup(ctx)
	<-bc.Done()
}

// TestAttendedTransfer: alice talks to bob, consults carol, then transfers bob to
// carol with Replaces; bob's call swaps onto a dialog with carol, carol's consult call
// is replaced under the same Call and MediaLeg.
func TestAttendedTransfer(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	m := newManager(t, ps.config(demoUsers))
	ctx := testCtx(t)
	alice, bob, ac, bc, _, bl := callPair(t, m)
	carol := signIn(t, m, "carol")
	if err := ac.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	cl := newTestLeg(t, 880)
	ccIn := make(chan *Call, 1)
	go func() {
		in := nextIncoming(t, carol)
		c, err := in.Answer(ctx, cl)
		if err != nil {
			t.Errorf("carol answers: %v", err)
		}
		ccIn <- c
	}()
	consult, err := alice.Dial(ctx, "carol", newTestLeg(t, 440))
	if err != nil {
		t.Fatalf("consult call: %v", err)
	}
	cc := <-ccIn
	if err := ac.AttendedTransfer(ctx, consult); err != nil {
		t.Fatalf("AttendedTransfer: %v (alice-bob ended: %q, consult: %q)", err, ac.EndReason(), consult.EndReason())
	}
	<-consult.Done()
	<-ac.Done()
	nextEvent(t, bob, signaling.CallActive, "transferred")
	nextEvent(t, carol, signaling.CallActive, "replaced")
	eventually(t, "bob's leg points at carol", func() bool {
		rs := bl.Remotes()
		return rs[len(rs)-1] == cl.LocalRTP()
	})
	eventually(t, "carol's leg points at bob", func() bool {
		rs := cl.Remotes()
		return rs[len(rs)-1] == bl.LocalRTP()
	})
	eventually(t, "carol hears bob", func() bool { return cl.From(bl.LocalRTP()) > 10 })
	eventually(t, "bob hears carol", func() bool { return bl.From(cl.LocalRTP()) > 10 })
	if cc.State() != signaling.CallActive || bc.State() != signaling.CallActive {
		t.Fatalf("carol %s bob %s", cc.State(), bc.State())
	}
	if len(carol.Calls()) != 1 {
		t.Fatalf("carol has %d calls, want the one replaced", len(carol.Calls()))
	}
	_ = cc.Hangup(ctx)
	<-bc.Done()
}

// TestBlindTransferPhone: a user transfers a SIP phone to another user.
func TestBlindTransferPhone(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	m := newManager(t, ps.config(demoUsers))
	ctx := testCtx(t)
	alice, bob := signIn(t, m, "alice"), signIn(t, m, "bob")
	phone := newPhone(t, ps, "carol", 350)
	done := make(chan error, 1)
	var ac *Call
	go func() {
		var err error
		ac, err = alice.Dial(ctx, "carol", newTestLeg(t, 440))
		done <- err
	}()
	var pc *siptest.Call
	select {
	case pc = <-phone.Incoming():
	case <-time.After(wait):
		t.Fatal("phone never rang")
	}
	if err := pc.Answer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	bl := newTestLeg(t, 660)
	go func() {
		if _, err := nextIncoming(t, bob).Answer(ctx, bl); err != nil {
			t.Errorf("bob answers: %v", err)
		}
	}()
	if err := ac.Transfer(ctx, "bob"); err != nil {
		t.Fatalf("Transfer: %v", err)
	}
	next, err := pc.Successor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "phone hears bob", func() bool { return next.Media().HeardTone(660) })
	_ = next.Hangup(ctx)
}
