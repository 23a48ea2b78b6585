package pool

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/siptest"
)

// The tests below are RFC 3261 §16.6–16.7 parallel forking with real phones: bob is
// registered from two phones (two Contacts, as from two gateways), alice calls him.

// twoBobs starts a pool, registers alice and two phones for bob there, and returns
// them with the test's context.
func twoBobs(t *testing.T) (p *Pool, ctx context.Context, alice, bob1, bob2 *siptest.Phone) {
	t.Helper()
	return twoBobsWith(t, Options{})
}

// twoBobsWith is twoBobs with a pool started with opt.
func twoBobsWith(t *testing.T, opt Options) (p *Pool, ctx context.Context, alice, bob1, bob2 *siptest.Phone) {
	t.Helper()
	p = startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), opt)
	ctx = testCtx(t)
	alice = newPhone(t, p, "alice", "alice-pw", 350)
	bob1 = newPhone(t, p, "bob", "bob-pw", 440)
	bob2 = newPhone(t, p, "bob", "bob-pw", 660)
	for _, ph := range []*siptest.Phone{alice, bob1, bob2} {
		if _, err := ph.Register(ctx, time.Hour); err != nil {
			t.Fatalf("register %s: %v", ph.Addr(), err)
		}
	}
	if n := len(p.bindings.Get("bob", time.Now())); n != 2 {
		t.Fatalf("bob has %d bindings after registering from two phones, want 2", n)
	}
	return p, ctx, alice, bob1, bob2
}

// ringing waits until phone has an incoming call.
func ringing(t *testing.T, ctx context.Context, who string, ph *siptest.Phone) *siptest.Call {
	t.Helper()
	select {
	case c := <-ph.Incoming():
		return c
	case <-ctx.Done():
		t.Fatalf("%s never rang", who)
		return nil
	}
}

// endsWith waits until c ends and checks why.
func endsWith(t *testing.T, ctx context.Context, who string, c *siptest.Call, reason string) {
	t.Helper()
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatalf("%s's call never ended (want %q)", who, reason)
	}
	if got := c.EndReason(); got != reason {
		t.Fatalf("%s's call ended %q, want %q", who, got, reason)
	}
}

type callResult struct {
	call *siptest.Call
	err  error
}

// dial has alice call bob in the background (the call lasts as long as callCtx) and
// waits until both of bob's phones ring.
func dial(t *testing.T, ctx, callCtx context.Context, p *Pool, alice, bob1, bob2 *siptest.Phone) (done <-chan callResult, in1, in2 *siptest.Call) {
	t.Helper()
	ch := make(chan callResult, 1)
	go func() {
		c, err := alice.Call(callCtx, "sip:bob@"+p.Addr())
		ch <- callResult{c, err}
	}()
	return ch, ringing(t, ctx, "bob's first phone", bob1), ringing(t, ctx, "bob's second phone", bob2)
}

func result(t *testing.T, ctx context.Context, done <-chan callResult) callResult {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-ctx.Done():
		t.Fatal("alice's INVITE never got a final answer")
		return callResult{}
	}
}

// TestForkFirstAnswerWins: both of bob's phones ring; the one that answers gets the
// call (its audio, its dialog end to end), the other is CANCELled.
func TestForkFirstAnswerWins(t *testing.T) {
	p, ctx, alice, bob1, bob2 := twoBobs(t)
	done, in1, in2 := dial(t, ctx, ctx, p, alice, bob1, bob2)
	if err := in2.Answer(ctx); err != nil {
		t.Fatalf("bob answers on his second phone: %v", err)
	}
	r := result(t, ctx, done)
	if r.err != nil {
		t.Fatalf("alice's call: %v", r.err)
	}
	endsWith(t, ctx, "bob's first phone", in1, "cancelled")
	if rt := r.call.RemoteTarget(); rt.HostPort() != bob2.Addr() {
		t.Fatalf("alice's dialog is with %s, want bob's second phone %s", rt.HostPort(), bob2.Addr())
	}
	waitFor(t, "alice hears bob's second phone (660 Hz)", func() bool { return r.call.Media().HeardTone(660) })
	waitFor(t, "bob's second phone hears alice (350 Hz)", func() bool { return in2.Media().HeardTone(350) })
	if r.call.Media().HeardTone(440) {
		t.Fatal("alice hears bob's first phone, which never answered")
	}
	if err := r.call.Hangup(ctx); err != nil {
		t.Fatalf("alice hangs up: %v", err)
	}
	endsWith(t, ctx, "bob's second phone", in2, "bye")
}

// TestForkAllBusy: every branch refuses; the best answer, the busy phone's 486 rather
// than the other's 480, goes to the caller.
func TestForkAllBusy(t *testing.T) {
	p, ctx, alice, bob1, bob2 := twoBobs(t)
	done, in1, in2 := dial(t, ctx, ctx, p, alice, bob1, bob2)
	if err := in1.Reject(ctx, 480, "Temporarily Unavailable"); err != nil {
		t.Fatal(err)
	}
	if err := in2.Reject(ctx, 486, "Busy Here"); err != nil {
		t.Fatal(err)
	}
	if r := result(t, ctx, done); siptest.Status(r.err) != 486 {
		t.Fatalf("alice's call to a busy and an unavailable phone: %v, want 486", r.err)
	}
}

// TestForkDeclineEverywhere: a 6xx from one branch ends the fork — the other phone
// stops ringing and the caller gets the 6xx.
func TestForkDeclineEverywhere(t *testing.T) {
	p, ctx, alice, bob1, bob2 := twoBobs(t)
	done, in1, _ := dial(t, ctx, ctx, p, alice, bob1, bob2)
	if err := in1.Reject(ctx, 603, "Decline"); err != nil {
		t.Fatal(err)
	}
	if r := result(t, ctx, done); siptest.Status(r.err) != 603 {
		t.Fatalf("alice's call declined on one phone: %v, want 603", r.err)
	}
	waitFor(t, "bob's second phone to stop ringing", func() bool { return len(bob2.Calls()) == 0 })
}

// TestForkCallerCancels: the caller's CANCEL stops every branch and the caller gets 487.
func TestForkCallerCancels(t *testing.T) {
	p, ctx, alice, bob1, bob2 := twoBobs(t)
	callCtx, hangUp := context.WithCancel(ctx)
	done, in1, in2 := dial(t, ctx, callCtx, p, alice, bob1, bob2)
	hangUp() // sipgo CANCELs the ringing INVITE
	endsWith(t, ctx, "bob's first phone", in1, "cancelled")
	endsWith(t, ctx, "bob's second phone", in2, "cancelled")
	if r := result(t, ctx, done); r.err == nil {
		t.Fatal("alice's cancelled call was answered")
	}
}

// TestCancelBeforeForward: the caller's CANCEL comes after the pool's 100 Trying but
// before the INVITE went on to bob's phones (the proxy's goroutine held up there): the
// caller's call ends and neither phone rings. The pool used to watch for the CANCEL only
// once the branches were sent, so one arriving meanwhile was lost and both phones rang
// until Timer C (TestForkCallerCancels failed a CI run that way).
func TestCancelBeforeForward(t *testing.T) {
	var invites atomic.Int32
	held := make(chan struct{})
	p, ctx, alice, bob1, bob2 := twoBobsWith(t, Options{
		testBeforeForward: func(tx sip.ServerTransaction) {
			if invites.Add(1) != 1 {
				return // the second call goes through
			}
			close(held)
			// sipgo answers a CANCEL in its transaction layer (200, then 487 for the
			// INVITE); the pool's handler never sees it.
			for deadline := time.Now().Add(20 * time.Second); tx.Err() != sip.ErrTransactionCanceled; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Error("alice's CANCEL never reached the INVITE's transaction")
					return
				}
			}
		},
	})
	callCtx, hangUp := context.WithCancel(ctx)
	first := make(chan callResult, 1)
	go func() {
		c, err := alice.Call(callCtx, "sip:bob@"+p.Addr())
		first <- callResult{c, err}
	}()
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatal("alice's INVITE never reached the point of being forwarded")
	}
	hangUp() // sipgo CANCELs once the 100 Trying is in, which it is
	if r := result(t, ctx, first); r.err == nil {
		t.Fatal("alice's cancelled call was answered")
	}
	// Nothing of it is left in the pool (with the CANCEL lost, its branches would ring
	// on until Timer C), and a second call rings both phones: the first call each of
	// them saw must be that one.
	waitFor(t, "the pool to be done with alice's cancelled INVITE", func() bool { return p.inflight.Load() == 0 })
	done, in1, in2 := dial(t, ctx, ctx, p, alice, bob1, bob2)
	if err := in1.Answer(ctx); err != nil {
		t.Fatalf("bob answers the second call: %v", err)
	}
	r := result(t, ctx, done)
	if r.err != nil {
		t.Fatalf("alice's second call: %v", r.err)
	}
	for _, in := range []*siptest.Call{in1, in2} {
		if in.CallID() != r.call.CallID() {
			t.Fatalf("a phone of bob's rang for the cancelled call %s (the second is %s)", in.CallID(), r.call.CallID())
		}
	}
	endsWith(t, ctx, "bob's second phone", in2, "cancelled")
	_ = r.call.Hangup(ctx)
}

// TestForkAfterUnregister: a phone that removes its binding (a gateway whose last tab
// of the user left) no longer rings; the other binding is untouched and the call to it
// is not forked.
func TestForkAfterUnregister(t *testing.T) {
	p, ctx, alice, bob1, bob2 := twoBobs(t)
	if _, err := bob1.Register(ctx, 0); err != nil {
		t.Fatalf("bob's first phone unregisters: %v", err)
	}
	bs := p.bindings.Get("bob", time.Now())
	if len(bs) != 1 || bs[0].Contact.HostPort() != bob2.Addr() {
		t.Fatalf("after the first phone's unregister bob's bindings are %v, want the second phone's alone", bs)
	}
	done := make(chan callResult, 1)
	go func() {
		c, err := alice.Call(ctx, "sip:bob@"+p.Addr())
		done <- callResult{c, err}
	}()
	in2 := ringing(t, ctx, "bob's second phone", bob2)
	if err := in2.Answer(ctx); err != nil {
		t.Fatal(err)
	}
	r := result(t, ctx, done)
	if r.err != nil {
		t.Fatalf("alice's call: %v", r.err)
	}
	if n := len(bob1.Calls()); n != 0 {
		t.Fatalf("the unregistered phone has %d calls", n)
	}
	_ = r.call.Hangup(ctx)
}

// TestForkRingBack: the park service's own INVITEs to users go through the proxy, so
// a ring-back to a parker with two phones rings both; the one that answers gets the
// parked party, the other stops ringing.
func TestForkRingBack(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{testPickupTimeout: time.Second})
	ctx := testCtx(t)
	alice1 := newPhone(t, p, "alice", "alice-pw", aliceHz)
	alice2 := newPhone(t, p, "alice", "alice-pw", 900)
	bob := newPhone(t, p, "bob", "bob-pw", bobHz)
	registerAll(t, ctx, alice1, alice2, bob)
	parked, code := parkVia(t, ctx, p, alice1, bob)
	if parked == nil {
		t.Fatalf("park refused with %d", code)
	}
	ring1 := ringing(t, ctx, "alice's first phone (ring-back)", alice1)
	ring2 := ringing(t, ctx, "alice's second phone (ring-back)", alice2)
	if err := ring2.Answer(ctx); err != nil {
		t.Fatalf("alice answers the ring-back on her second phone: %v", err)
	}
	endsWith(t, ctx, "alice's first phone", ring1, "cancelled")
	// The park service hands bob to the phone that answered (REFER with Replaces).
	handed, err := parked.Successor(ctx)
	if err != nil {
		t.Fatalf("bob's call after the ring-back: %v", err)
	}
	waitFor(t, "bob hears alice's second phone (900 Hz)", func() bool { return handed.Media().HeardTone(900) })
	waitFor(t, "alice's second phone hears bob", func() bool {
		for _, c := range alice2.Calls() {
			if c.Media().HeardTone(bobHz) {
				return true
			}
		}
		return false
	})
}

// BenchmarkRouteUser is the proxy's routing decision for a call to a registered user
// with one binding (the common case, which forking must leave as cheap as it was) and
// with two (a user on two gateways). It reports allocations per decision.
func BenchmarkRouteUser(b *testing.B) {
	p := startPool(b, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	now := time.Now()
	for i, user := range []string{"alice", "bob", "bob"} {
		p.bindings.Put(user, Binding{
			Contact: sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: 40000 + i},
			Expires: now.Add(time.Hour), Updated: now,
		})
	}
	n := p.node
	for _, bc := range []struct {
		name, user string
	}{{"bindings=1", "alice"}, {"bindings=2", "bob"}} {
		b.Run(bc.name, func(b *testing.B) {
			uri := sip.Uri{Scheme: "sip", User: bc.user, Host: p.Domain()}
			req := sip.NewRequest(sip.INVITE, uri)
			req.AppendHeader(&sip.ToHeader{Address: uri, Params: sip.NewParams()})
			b.ReportAllocs()
			for b.Loop() {
				t, e := n.route(req)
				if e != nil || t.kind != targetUser || forks(req, t) != (bc.user == "bob") {
					b.Fatalf("route %s: %+v %v", bc.user, t, e)
				}
			}
		})
	}
}

// TestForkLoserCancelSaysWhy: the CANCEL a losing branch gets says the call was
// completed elsewhere (RFC 3326), so a phone can tell it from a caller who gave up.
func TestForkLoserCancelSaysWhy(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	ctx := testCtx(t)
	alice := newPhone(t, p, "alice", "alice-pw", aliceHz)
	bob := newPhone(t, p, "bob", "bob-pw", bobHz)
	registerAll(t, ctx, alice, bob)
	// bob's other phone: a bare user agent that rings and reports the CANCEL it gets.
	other := newRawUA(t)
	reasons := make(chan string, 1)
	other.srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		tx.OnCancel(func(c *sip.Request) {
			reasons <- headerValueOf(c, "Reason")
		})
		_ = tx.Respond(sip.NewResponseFromRequest(req, 180, "Ringing", nil))
		select {
		case <-tx.Done():
		case <-ctx.Done():
		}
	})
	if res := other.doAuth(t, registerReq(p, "bob", "<sip:bob@"+other.addr+">", 3600), "bob", "bob-pw"); res.StatusCode != 200 {
		t.Fatalf("bob's other phone registers: %d %s", res.StatusCode, res.Reason)
	}
	go func() {
		select {
		case in := <-bob.Incoming():
			_ = in.Answer(ctx)
		case <-ctx.Done():
		}
	}()
	c, err := alice.Call(ctx, "sip:bob@"+p.Addr())
	if err != nil {
		t.Fatalf("alice calls bob: %v", err)
	}
	defer c.Hangup(ctx)
	select {
	case r := <-reasons:
		if want := `SIP;cause=200;text="Call completed elsewhere"`; r != want {
			t.Fatalf("the losing branch's CANCEL has Reason %q, want %q", r, want)
		}
	case <-ctx.Done():
		t.Fatal("bob's other phone never got a CANCEL")
	}
}

func headerValueOf(req *sip.Request, name string) string {
	if h := req.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}
