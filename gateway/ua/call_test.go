package ua

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parkway/parkway/pool"
	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/siptest"
)

// callPair signs in alice and bob on one gateway and connects alice → bob via pool-a.
func callPair(t *testing.T, m *Manager) (alice, bob *User, ac, bc *Call, al, bl *testLeg) {
	t.Helper()
	ctx := testCtx(t)
	alice, bob = signIn(t, m, "alice"), signIn(t, m, "bob")
	al, bl = newTestLeg(t, 440), newTestLeg(t, 660)
	type result struct {
		c   *Call
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := alice.Dial(ctx, "bob", al)
		done <- result{c, err}
	}()
	in := nextIncoming(t, bob)
	if in.From == "" || in.Call().State() != signaling.CallRinging {
		t.Fatalf("incoming: from %q state %s", in.From, in.Call().State())
	}
	// The ringing event carries the same Incoming: a consumer that shows the event can
	// answer at once, without waiting on the other queue.
	if e := nextEvent(t, bob, signaling.CallRinging, ""); e.Incoming != in {
		t.Fatalf("bob's ringing event carries %p, want the incoming call %p", e.Incoming, in)
	}
	var err error
	if bc, err = in.Answer(ctx, bl); err != nil {
		t.Fatalf("Answer: %v", err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("Dial: %v", r.err)
	}
	ac = r.c
	nextEvent(t, alice, signaling.CallActive, "")
	nextEvent(t, bob, signaling.CallActive, "")
	return
}

func TestCallBetweenTwoUsers(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	m := newManager(t, ps.config(demoUsers))
	alice, bob, ac, bc, al, bl := callPair(t, m)
	ctx := testCtx(t)
	// Media flows both ways, directly between the legs.
	eventually(t, "alice hears bob", func() bool { return al.From(bl.LocalRTP()) > 10 })
	eventually(t, "bob hears alice", func() bool { return bl.From(al.LocalRTP()) > 10 })
	if ac.State() != signaling.CallActive || bc.State() != signaling.CallActive {
		t.Fatalf("states %s %s", ac.State(), bc.State())
	}
	// Calls survive a redirection and the death of the pool they were placed through:
	// the dialog and the media run end to end (ARCHITECTURE.md §2 invariants).
	if err := m.Redirect(ctx, "pool-b"); err != nil {
		t.Fatal(err)
	}
	ps.a.Stop()
	n := al.From(bl.LocalRTP())
	eventually(t, "audio after pool-a died", func() bool { return al.From(bl.LocalRTP()) > n+10 })
	if err := ac.Hold(ctx); err != nil {
		t.Fatalf("hold without pool-a: %v", err)
	}
	if err := ac.Resume(ctx); err != nil {
		t.Fatalf("resume without pool-a: %v", err)
	}
	if err := ac.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	e := nextEvent(t, bob, signaling.CallEnded, "")
	if e.Call != bc || e.Reason != "hung up" {
		t.Fatalf("bob's end: call %v reason %q", e.Call == bc, e.Reason)
	}
	nextEvent(t, alice, signaling.CallEnded, "hung up")
	<-bc.Done()
	if len(alice.Calls()) != 0 || len(bob.Calls()) != 0 {
		t.Fatal("calls left behind")
	}
}

func TestHoldResume(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	m := newManager(t, ps.config(demoUsers))
	alice, bob, ac, bc, al, bl := callPair(t, m)
	ctx := testCtx(t)
	if err := ac.Hold(ctx); err != nil {
		t.Fatalf("Hold: %v", err)
	}
	nextEvent(t, alice, signaling.CallHeld, "")
	// The far end sees the hold: its answer is recvonly, its leg stops sending.
	nextEvent(t, bob, signaling.CallActive, "held by the other party")
	if !bc.RemoteHold() || bl.Dir() != RecvOnly || al.Dir() != SendOnly {
		t.Fatalf("held: bob remoteHold %v, bob leg %s, alice leg %s", bc.RemoteHold(), bl.Dir(), al.Dir())
	}
	// bob holds too: both directions off.
	if err := bc.Hold(ctx); err != nil {
		t.Fatalf("bob Hold: %v", err)
	}
	if bl.Dir() != Inactive || al.Dir() != Inactive {
		t.Fatalf("both held: bob leg %s, alice leg %s", bl.Dir(), al.Dir())
	}
	if err := bc.Resume(ctx); err != nil {
		t.Fatalf("bob Resume: %v", err)
	}
	if err := ac.Resume(ctx); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	nextEvent(t, alice, signaling.CallActive, "")
	if bc.RemoteHold() || bl.Dir() != SendRecv || al.Dir() != SendRecv {
		t.Fatalf("resumed: bob remoteHold %v, bob leg %s, alice leg %s", bc.RemoteHold(), bl.Dir(), al.Dir())
	}
	n := bl.From(al.LocalRTP())
	eventually(t, "audio again after resume", func() bool { return bl.From(al.LocalRTP()) > n+10 })
	_ = ac.Hangup(ctx)
	<-bc.Done()
	_ = bob
}

func TestDeclineBusyAndNotFound(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	m := newManager(t, ps.config(demoUsers))
	ctx := testCtx(t)
	alice, bob := signIn(t, m, "alice"), signIn(t, m, "bob")
	leg := newTestLeg(t, 440)
	errc := make(chan error, 1)
	go func() {
		_, err := alice.Dial(ctx, "bob", leg)
		errc <- err
	}()
	in := nextIncoming(t, bob)
	if err := in.Decline(ctx, 486); err != nil {
		t.Fatalf("Decline: %v", err)
	}
	err := <-errc
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 486 || !errors.Is(err, ErrBusy) {
		t.Fatalf("Dial to a busy user: %v", err)
	}
	nextEvent(t, alice, signaling.CallEnded, "busy")
	nextEvent(t, bob, signaling.CallEnded, "busy")

	// A user nobody knows: 404 from the pool pair, a typed "not found".
	_, err = alice.Dial(ctx, "nobody", leg)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Dial nobody: %v, want ErrNotFound", err)
	}
	if want := "not found"; !contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
	nextEvent(t, alice, signaling.CallEnded, "not found")

	// Hanging up while it rings cancels the INVITE (RFC 3261 §9.1).
	go func() {
		_, err := alice.Dial(ctx, "bob", leg)
		errc <- err
	}()
	in = nextIncoming(t, bob)
	var dialing *Call
	for dialing == nil {
		for _, c := range alice.Calls() {
			dialing = c
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let the 180 arrive so CANCEL may be sent
	if err := dialing.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil {
		t.Fatal("cancelled Dial succeeded")
	}
	<-in.Call().Done()
	if r := in.Call().EndReason(); r != "cancelled" {
		t.Fatalf("callee's end reason %q, want cancelled", r)
	}
}

func contains(s, sub string) bool { return len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0) }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func newPhone(t *testing.T, ps pools, user string, tone float64) *siptest.Phone {
	t.Helper()
	var pw string
	for _, u := range demoUsers {
		if u.Name == user {
			pw = u.Password
		}
	}
	p := siptest.NewPhone(t, siptest.PhoneOptions{User: user, Password: pw, Domain: ps.a.Domain(), Proxy: ps.a.Addr(), ToneHz: tone})
	if _, err := p.Register(testCtx(t), time.Hour); err != nil {
		t.Fatalf("phone %s Register: %v", user, err)
	}
	return p
}

func udpAddrPort(a *net.UDPAddr) netip.AddrPort {
	ap := a.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func TestCallToAndFromPhone(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	m := newManager(t, ps.config(demoUsers))
	ctx := testCtx(t)
	alice := signIn(t, m, "alice")
	carol := newPhone(t, ps, "carol", 350)
	leg := newTestLeg(t, 440)

	// alice → the phone.
	done := make(chan error, 1)
	var ac *Call
	go func() {
		c, err := alice.Dial(ctx, "carol", leg)
		ac = c
		done <- err
	}()
	var pc *siptest.Call
	select {
	case pc = <-carol.Incoming():
	case <-time.After(wait):
		t.Fatal("phone never rang")
	}
	if err := pc.Answer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Dial carol: %v", err)
	}
	eventually(t, "phone hears alice's 440 Hz", func() bool { return pc.Media().HeardTone(440) })
	eventually(t, "alice's leg gets the phone's RTP", func() bool { return leg.From(udpAddrPort(pc.Media().LocalAddr())) > 10 })
	// Hold against a phone that answers every offer a=sendrecv: our side still holds.
	if err := ac.Hold(ctx); err != nil {
		t.Fatalf("Hold: %v", err)
	}
	if leg.Dir() != SendOnly || ac.State() != signaling.CallHeld {
		t.Fatalf("held: leg %s state %s", leg.Dir(), ac.State())
	}
	// The phone refreshes the session (re-INVITE, RFC 3261 §14.2): we answer, still held.
	if err := pc.Reinvite(ctx); err != nil {
		t.Fatalf("phone re-INVITE: %v", err)
	}
	if leg.Dir() != SendOnly || len(leg.Remotes()) != 1 {
		t.Fatalf("after the phone's re-INVITE: leg %s remotes %v", leg.Dir(), leg.Remotes())
	}
	if err := ac.Resume(ctx); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if leg.Dir() != SendRecv {
		t.Fatalf("resumed: leg %s", leg.Dir())
	}
	if err := pc.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	<-ac.Done()
	if ac.EndReason() != "remote hung up" {
		t.Fatalf("end reason %q", ac.EndReason())
	}

	// The phone → alice.
	leg2 := newTestLeg(t, 440)
	type res struct {
		c   *siptest.Call
		err error
	}
	pdone := make(chan res, 1)
	go func() {
		c, err := carol.Call(ctx, "sip:alice@"+ps.a.Domain())
		pdone <- res{c, err}
	}()
	in := nextIncoming(t, alice)
	c, err := in.Answer(ctx, leg2)
	if err != nil {
		t.Fatal(err)
	}
	r := <-pdone
	if r.err != nil {
		t.Fatalf("phone Call alice: %v", r.err)
	}
	eventually(t, "phone hears alice", func() bool { return r.c.Media().HeardTone(440) })
	eventually(t, "alice hears the phone", func() bool { return leg2.From(udpAddrPort(r.c.Media().LocalAddr())) > 10 })
	if err := c.End(ctx, "the park pool failed"); err != nil {
		t.Fatal(err)
	}
	<-r.c.Done()
	if got := r.c.EndReason(); !contains(got, "the park pool failed") {
		t.Fatalf("phone saw end reason %q", got)
	}
}

// lawLeg is a testLeg whose G.711 law is fixed (a browser that negotiated one), and
// which records the telephone-event type.
type lawLeg struct {
	*testLeg
	law    uint8
	events atomic.Uint32
}

func (l *lawLeg) Codecs() []uint8              { return []uint8{l.law} }
func (l *lawLeg) SetEventPayloadType(pt uint8) { l.events.Store(uint32(pt)) }

func (l *testLeg) PT() uint8 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pt
}

func TestCodecFixedByTheLeg(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	m := newManager(t, ps.config(demoUsers))
	ctx := testCtx(t)
	alice, bob := signIn(t, m, "alice"), signIn(t, m, "bob")

	// A PCMA-only caller: the offer lists PCMA alone, the callee answers PCMA.
	al := &lawLeg{testLeg: newTestLeg(t, 440), law: PayloadPCMA}
	bl := newTestLeg(t, 660)
	go func() {
		if _, err := nextIncoming(t, bob).Answer(ctx, bl); err != nil {
			t.Errorf("answer: %v", err)
		}
	}()
	ac, err := alice.Dial(ctx, "bob", al)
	if err != nil {
		t.Fatal(err)
	}
	if al.PT() != PayloadPCMA || bl.PT() != PayloadPCMA || al.events.Load() != uint32(PayloadEventsDef) {
		t.Fatalf("laws: alice %d bob %d, events %d", al.PT(), bl.PT(), al.events.Load())
	}
	_ = ac.Hangup(ctx)
	nextEvent(t, bob, signaling.CallEnded, "")

	// A PCMU-only caller and a PCMA-only callee: 488, a typed ErrNoCodec.
	// Bob's Answer is waited for: alice can have the 488 before his Answer returns, and
	// the test's context ends with the test.
	ul := &lawLeg{testLeg: newTestLeg(t, 440), law: PayloadPCMU}
	answered := make(chan error, 1)
	go func() {
		in := nextIncoming(t, bob)
		_, err := in.Answer(ctx, &lawLeg{testLeg: newTestLeg(t, 660), law: PayloadPCMA})
		answered <- err
	}()
	if _, err := alice.Dial(ctx, "bob", ul); !errors.Is(err, ErrNoCodec) {
		t.Fatalf("Dial with no common law: %v, want ErrNoCodec", err)
	}
	select {
	case err := <-answered:
		if !errors.Is(err, ErrNoCodec) {
			t.Errorf("answer with no common law: %v, want ErrNoCodec", err)
		}
	case <-ctx.Done():
		t.Fatal("bob's Answer did not return after alice had the 488")
	}
}
