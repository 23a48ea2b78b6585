package ua

import (
	"testing"
	"time"

	"github.com/parkway/parkway/pool"
	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/siptest"
)

// TestParkAndRetrieveBetweenUsers: alice parks bob (both on the gateway), the orbit is
// reported to alice, bob follows the REFER to the park service without a new MediaLeg,
// and carol retrieves him by dialling the orbit — bob's call then swaps to carol's
// dialog (REFER with Replaces from the park service) and media flows bob ↔ carol.
func TestParkAndRetrieveBetweenUsers(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	m := newManager(t, ps.config(demoUsers))
	ctx := testCtx(t)
	alice, bob, ac, bc, al, bl := callPair(t, m)
	carol := signIn(t, m, "carol")

	orbit, err := ac.Park(ctx, "")
	if err != nil {
		t.Fatalf("Park: %v", err)
	}
	if orbit != "7000" {
		t.Fatalf("orbit %q, want 7000 (pool-a's first)", orbit)
	}
	e := nextEvent(t, alice, signaling.CallEnded, "parked")
	if e.Orbit != "7000" {
		t.Fatalf("alice's ended event orbit %q", e.Orbit)
	}
	// bob followed the REFER: same Call, same leg, now talking to the park service.
	pe := nextEvent(t, bob, signaling.CallActive, "parked")
	if pe.Call != bc || pe.Orbit != "7000" {
		t.Fatalf("bob's parked event: same call %v orbit %q", pe.Call == bc, pe.Orbit)
	}
	if rs := bl.Remotes(); len(rs) != 2 || rs[1] == al.LocalRTP() {
		t.Fatalf("bob's leg remotes %v: want alice then the park service", rs)
	}
	parkRTP := bl.Remotes()[1]
	eventually(t, "bob hears music on hold", func() bool { return bl.From(parkRTP) > 10 })
	eventually(t, "pool-a lists the parked call", func() bool { return len(ps.a.Park().Parked()) == 1 })

	// carol retrieves by dialling the orbit.
	cl := newTestLeg(t, 880)
	cc, err := carol.Dial(ctx, orbit, cl)
	if err != nil {
		t.Fatalf("carol dials the orbit: %v", err)
	}
	nextEvent(t, bob, signaling.CallActive, "transferred")
	eventually(t, "bob's leg points at carol", func() bool {
		rs := bl.Remotes()
		return len(rs) == 3 && rs[2] == cl.LocalRTP()
	})
	nextEvent(t, carol, signaling.CallActive, "replaced")
	eventually(t, "carol's leg points at bob", func() bool {
		rs := cl.Remotes()
		return len(rs) > 0 && rs[len(rs)-1] == bl.LocalRTP()
	})
	eventually(t, "carol hears bob", func() bool { return cl.From(bl.LocalRTP()) > 10 })
	eventually(t, "bob hears carol", func() bool { return bl.From(cl.LocalRTP()) > 10 })
	eventually(t, "the orbit is free", func() bool { return len(ps.a.Park().Parked()) == 0 })
	if bc.State() != signaling.CallActive || cc.State() != signaling.CallActive {
		t.Fatalf("after retrieve: bob %s carol %s", bc.State(), cc.State())
	}
	if err := cc.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	<-bc.Done()
	if bc.EndReason() != "remote hung up" && bc.EndReason() != "hung up" {
		t.Fatalf("bob's end reason %q", bc.EndReason())
	}
}

// TestParkedPhoneRetrievedByUser: a SIP phone is the parked party and a gateway user
// the parker; another gateway user retrieves with a directed orbit.
func TestParkPhoneRetrieveByUser(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	m := newManager(t, ps.config(demoUsers))
	ctx := testCtx(t)
	alice, dave := signIn(t, m, "alice"), signIn(t, m, "dave")
	phone := newPhone(t, ps, "carol", 350)
	al := newTestLeg(t, 440)
	done := make(chan error, 1)
	var ac *Call
	go func() {
		var err error
		ac, err = alice.Dial(ctx, "carol", al)
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
	orbit, err := ac.Park(ctx, "7042") // directed park
	if err != nil {
		t.Fatalf("Park: %v", err)
	}
	if orbit != "7042" {
		t.Fatalf("orbit %q, want 7042", orbit)
	}
	parked, err := pc.Successor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dl := newTestLeg(t, 880)
	if _, err := dave.Dial(ctx, orbit, dl); err != nil {
		t.Fatalf("dave retrieves: %v", err)
	}
	retrieved, err := parked.Successor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "phone hears dave", func() bool { return retrieved.Media().HeardTone(880) })
	eventually(t, "dave gets the phone's RTP", func() bool { return dl.From(udpAddrPort(retrieved.Media().LocalAddr())) > 10 })
	_ = retrieved.Hangup(ctx)
}

// TestParkedUserRetrievedByPhone: a SIP phone parks a gateway user (REFER to
// sip:park@), and another phone retrieves; the user's call follows both REFERs on one
// MediaLeg.
func TestParkedUserRetrievedByPhone(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	m := newManager(t, ps.config(demoUsers))
	ctx := testCtx(t)
	bob := signIn(t, m, "bob")
	carol := newPhone(t, ps, "carol", 350)
	dave := newPhone(t, ps, "dave", 700)
	type res struct {
		c   *siptest.Call
		err error
	}
	out := make(chan res, 1)
	go func() {
		c, err := carol.Call(ctx, "sip:bob@"+ps.a.Domain())
		out <- res{c, err}
	}()
	bl := newTestLeg(t, 660)
	bc, err := nextIncoming(t, bob).Answer(ctx, bl)
	if err != nil {
		t.Fatal(err)
	}
	r := <-out
	if r.err != nil {
		t.Fatal(r.err)
	}
	code, err := r.c.Refer(ctx, "sip:park@"+ps.a.Domain())
	if err != nil || code != 200 {
		t.Fatalf("phone parks bob: %d %v", code, err)
	}
	_ = r.c.Hangup(ctx)
	pe := nextEvent(t, bob, signaling.CallActive, "parked")
	if pe.Orbit == "" {
		t.Fatal("bob's parked event has no orbit")
	}
	dc, err := dave.Call(ctx, "sip:"+pe.Orbit+"@"+ps.a.Domain())
	if err != nil {
		t.Fatalf("phone retrieves: %v", err)
	}
	next, err := dc.Successor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dAddr := udpAddrPort(next.Media().LocalAddr())
	eventually(t, "bob's leg points at dave", func() bool {
		rs := bl.Remotes()
		return len(rs) == 3 && rs[2] == dAddr
	})
	eventually(t, "dave hears bob", func() bool { return next.Media().HeardTone(660) })
	eventually(t, "bob gets dave's RTP", func() bool { return bl.From(dAddr) > 10 })
	if bc.State() != signaling.CallActive {
		t.Fatalf("bob's call %s", bc.State())
	}
	_ = next.Hangup(ctx)
	<-bc.Done()
}

// TestParkPoolFails: bob (a gateway user) is parked on pool-a; pool-a dies without a
// word; the gateway ends bob's parked call with a reason, promptly — before the BYE to
// the dead park service has timed out.
func TestParkPoolFails(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	cfg := ps.config(demoUsers)
	cfg.RequestTimeout = 3 * time.Second
	m := newManager(t, cfg)
	ctx := testCtx(t)
	alice, bob, ac, bc, _, _ := callPair(t, m)
	if _, err := ac.Park(ctx, ""); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, alice, signaling.CallEnded, "parked")
	nextEvent(t, bob, signaling.CallActive, "parked")
	if p, orbit, ok := bc.ParkedOn(); !ok || p != "pool-a" || orbit != "7000" {
		t.Fatalf("ParkedOn = %q %q %v", p, orbit, ok)
	}
	ps.a.Stop() // a crash: no BYE, no NOTIFY
	// As the gateway's DR feed says it (phone's parkedFeed): no goodbyes to a dead pool,
	// or the cleanup's sign-outs wait out two un-REGISTERs there.
	m.PoolDown("pool-a", true)
	if n := m.EndParked(ctx, "pool-b", "x"); n != 0 {
		t.Fatalf("EndParked(pool-b) ended %d calls", n)
	}
	go m.EndParked(ctx, "pool-a", "the park pool failed")
	e := nextEvent(t, bob, signaling.CallEnded, "")
	if e.Call != bc || e.Reason != "the park pool failed" {
		t.Fatalf("bob's end: %q", e.Reason)
	}
	<-bc.Done()
}

// TestRetrieveAfterFailback: a call parked on pool-b while users were failed over
// stays parked when they move back to pool-a, and a user on pool-a retrieves it (the
// orbit is routed to the peer pool, ARCHITECTURE.md §2 "failback: stays parked").
func TestRetrieveAfterFailback(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	m := newManager(t, ps.config(demoUsers))
	ctx := testCtx(t)
	alice, bob := signIn(t, m, "alice"), signIn(t, m, "bob")
	carol := signIn(t, m, "carol")
	if err := m.Redirect(ctx, "pool-b"); err != nil {
		t.Fatal(err)
	}
	bl := newTestLeg(t, 660)
	go func() {
		if _, err := nextIncoming(t, bob).Answer(ctx, bl); err != nil {
			t.Errorf("answer: %v", err)
		}
	}()
	ac, err := alice.Dial(ctx, "bob", newTestLeg(t, 440))
	if err != nil {
		t.Fatal(err)
	}
	orbit, err := ac.Park(ctx, "")
	if err != nil || orbit != "8000" {
		t.Fatalf("park on pool-b: %q %v", orbit, err)
	}
	if err := m.Redirect(ctx, "pool-a"); err != nil { // failback
		t.Fatal(err)
	}
	if p, _ := carol.Registered(); p.Name != "pool-a" {
		t.Fatalf("carol on %s", p.Name)
	}
	cl := newTestLeg(t, 880)
	if _, err := carol.Dial(ctx, orbit, cl); err != nil {
		t.Fatalf("retrieve %s from pool-a: %v", orbit, err)
	}
	eventually(t, "bob hears carol", func() bool { return bl.From(cl.LocalRTP()) > 10 })
	eventually(t, "carol hears bob", func() bool { return cl.From(bl.LocalRTP()) > 10 })
}
