package pool

import (
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/parkway/parkway/siptest"
)

func newPhone(t *testing.T, p *Pool, user, password string, tone float64) *siptest.Phone {
	t.Helper()
	return siptest.NewPhone(t, siptest.PhoneOptions{User: user, Password: password, Domain: p.Domain(), Proxy: p.Addr(), ToneHz: tone})
}

// waitFor polls cond until it holds; the deadline is generous because the test must not
// fail on a slow machine, only on a wrong result.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCallThroughProxy(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	ctx := testCtx(t)
	alice := newPhone(t, p, "alice", "alice-pw", 350)
	bob := newPhone(t, p, "bob", "bob-pw", 440)
	for _, ph := range []*siptest.Phone{alice, bob} {
		if _, err := ph.Register(ctx, time.Hour); err != nil {
			t.Fatalf("register: %v", err)
		}
	}
	go func() {
		select {
		case in := <-bob.Incoming():
			in.Answer(ctx)
		case <-ctx.Done():
		}
	}()
	call, err := alice.Call(ctx, "sip:bob@"+p.Addr())
	if err != nil {
		t.Fatalf("alice calls bob: %v", err)
	}
	if rr := call.Response().GetHeader("Record-Route"); rr != nil {
		t.Fatalf("200 OK carries Record-Route %q: the pool put itself in the dialog", rr.Value())
	}
	var bobCall *siptest.Call
	waitFor(t, "bob's side of the call", func() bool {
		cs := bob.Calls()
		if len(cs) > 0 {
			bobCall = cs[0]
		}
		return bobCall != nil
	})
	waitFor(t, "alice hears bob's 440 Hz", func() bool { return call.Media().HeardTone(440) })
	waitFor(t, "bob hears alice's 350 Hz", func() bool { return bobCall.Media().HeardTone(350) })
	// Media flows phone to phone: the only RTP source each side sees is the other phone.
	for src := range call.Media().Sources() {
		if src == p.Addr() {
			t.Fatalf("alice got RTP from the pool %s", src)
		}
	}
	// The dialog's remote target is bob's own contact, not the pool: BYE goes end to end.
	if rt := call.RemoteTarget(); rt.HostPort() == p.Addr() {
		t.Fatalf("remote target is the pool (%s)", rt.String())
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatalf("hangup: %v", err)
	}
	select {
	case <-bobCall.Done():
	case <-ctx.Done():
		t.Fatal("bob never saw the BYE")
	}
}

// TestCallSurvivesPoolStop is the ARCHITECTURE.md §2 invariant: no pool in an established
// call's path, so stopping the pool does not disturb it.
func TestCallSurvivesPoolStop(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	ctx := testCtx(t)
	alice := newPhone(t, p, "alice", "alice-pw", 350)
	bob := newPhone(t, p, "bob", "bob-pw", 440)
	for _, ph := range []*siptest.Phone{alice, bob} {
		if _, err := ph.Register(ctx, time.Hour); err != nil {
			t.Fatalf("register: %v", err)
		}
	}
	go func() {
		if in := <-bob.Incoming(); in != nil {
			in.Answer(ctx)
		}
	}()
	call, err := alice.Call(ctx, "sip:bob@"+p.Addr())
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	p.Stop()
	call.Media().ResetStats()
	waitFor(t, "audio after the pool stopped", func() bool { return call.Media().HeardTone(440) })
	if err := call.Hangup(ctx); err != nil {
		t.Fatalf("BYE with the pool down: %v", err)
	}
}

func TestProxyAnswers(t *testing.T) {
	cfg := testConfig("pool-a", Range{Start: "7000", End: "7099"})
	p := startPool(t, cfg, Options{})
	u := newRawUA(t)
	host, port, _ := sip.ParseAddr(p.Addr())
	send := func(user string, mutate func(*sip.Request)) *sip.Response {
		t.Helper()
		req := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", User: user, Host: host, Port: port})
		req.SetBody([]byte("hi"))
		if mutate != nil {
			mutate(req)
		}
		res, err := u.client.Do(testCtx(t), req)
		if err != nil {
			t.Fatalf("MESSAGE %s: %v", user, err)
		}
		return res
	}
	if got := send("zed", nil).StatusCode; got != 404 {
		t.Errorf("unknown user = %d, want 404", got)
	}
	if got := send("carol", nil).StatusCode; got != 480 {
		t.Errorf("known but unregistered user = %d, want 480", got)
	}
	zero := func(r *sip.Request) {
		mf := sip.MaxForwardsHeader(0)
		r.AppendHeader(&mf)
	}
	if got := send("carol", zero).StatusCode; got != 483 {
		t.Errorf("Max-Forwards 0 = %d, want 483", got)
	}
	ext := func(r *sip.Request) { r.AppendHeader(sip.NewHeader("Proxy-Require", "foo")) }
	if res := send("carol", ext); res.StatusCode != 420 || res.GetHeader("Unsupported") == nil {
		t.Errorf("Proxy-Require = %d, want 420 with Unsupported", res.StatusCode)
	}

	// A contact that points back at the pool makes a loop: the first hop is a spiral
	// (Request-URI changed), the second comes back identical and is refused (§16.3 step 4).
	res := u.doAuth(t, registerReq(p, "bob", "<sip:bob@"+p.Addr()+">", 300), "bob", "bob-pw")
	if res.StatusCode != 200 {
		t.Fatalf("register loop contact = %d", res.StatusCode)
	}
	if got := send("bob", nil).StatusCode; got != 482 {
		t.Errorf("looping request = %d, want 482", got)
	}
}

// TestPeerRouting: two pools, each the other's peer, asked from either side. A user
// registered at the other pool (during a failover users are split between the two
// registrars; a ring-back must find a parker whose binding moved) is reached through it;
// a known user registered at neither gets 480 and an unknown one 404 after exactly one
// bounce — the peer's Via stops the request going back (no ping-pong), with
// Max-Forwards to spare.
func TestPeerRouting(t *testing.T) {
	pa, pb := startPair(t)
	ctx := testCtx(t)
	u := newRawUA(t)
	alice := newPhone(t, pa, "alice", "alice-demo", 0)
	bob := newPhone(t, pb, "bob", "bob-demo", 0)
	registerAll(t, ctx, alice, bob)

	send := func(via *Pool, user string, mf int) *sip.Response {
		t.Helper()
		host, port, _ := sip.ParseAddr(via.Addr())
		req := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", User: user, Host: host, Port: port})
		m := sip.MaxForwardsHeader(mf)
		req.AppendHeader(&m)
		req.SetBody([]byte("to " + user + " via " + via.Name()))
		res, err := u.client.Do(ctx, req)
		if err != nil {
			t.Fatalf("MESSAGE to %s via %s: %v", user, via.Name(), err)
		}
		return res
	}
	for _, c := range []struct {
		via   *Pool
		user  string
		want  int
		phone *siptest.Phone
	}{
		{pa, "bob", 200, bob},     // registered at pool-b, asked at pool-a
		{pb, "alice", 200, alice}, // registered at pool-a, asked at pool-b
		{pa, "dave", 480, nil},
		{pb, "dave", 480, nil},
		{pa, "zed", 404, nil},
		{pb, "zed", 404, nil},
	} {
		// Two hops are all it may take: a request that bounced back and forth would run
		// out of Max-Forwards and be answered 483.
		if got := send(c.via, c.user, 2).StatusCode; got != c.want {
			t.Errorf("%s via %s = %d, want %d", c.user, c.via.Name(), got, c.want)
			continue
		}
		if c.phone == nil {
			continue
		}
		select {
		case m := <-c.phone.Messages():
			if want := "to " + c.user + " via " + c.via.Name(); string(m.Body()) != want {
				t.Errorf("%s got %q, want %q", c.user, m.Body(), want)
			}
		case <-ctx.Done():
			t.Fatalf("%s never got the MESSAGE via %s", c.user, c.via.Name())
		}
	}
}

// TestCancelReachesCallee: a caller's CANCEL is carried downstream (RFC 3261 §16.10), so
// the ringing phone stops ringing, and the caller gets 487 for its INVITE.
func TestCancelReachesCallee(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	ctx := testCtx(t)
	bob := newPhone(t, p, "bob", "bob-pw", 0)
	registerAll(t, ctx, bob)
	u := newRawUA(t)
	host, port, _ := sip.ParseAddr(p.Addr())
	inv := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "bob", Host: host, Port: port})
	inv.AppendHeader(sip.NewHeader("Contact", "<sip:tester@"+u.addr+">"))
	inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	inv.SetBody([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"))
	tx, err := u.client.TransactionRequest(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Terminate()
	var ringing *siptest.Call
	select {
	case ringing = <-bob.Incoming():
	case <-ctx.Done():
		t.Fatal("bob never rang")
	}
	// Wait for the relayed 180 so a CANCEL is allowed (§9.1).
	for got180 := false; !got180; {
		select {
		case res := <-tx.Responses():
			got180 = res.StatusCode == 180
		case <-ctx.Done():
			t.Fatal("no 180 relayed")
		}
	}
	cancel := sip.NewRequest(sip.CANCEL, inv.Recipient)
	cancel.AppendHeader(inv.Via().Clone())
	cancel.AppendHeader(sip.HeaderClone(inv.From()))
	cancel.AppendHeader(sip.HeaderClone(inv.To()))
	cancel.AppendHeader(sip.HeaderClone(inv.CallID()))
	cancel.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	mf := sip.MaxForwardsHeader(70)
	cancel.AppendHeader(&mf)
	cancel.SetBody(nil)
	cancel.Laddr = inv.Laddr
	if res, err := u.client.Do(ctx, cancel, func(*sipgo.Client, *sip.Request) error { return nil }); err != nil || res.StatusCode != 200 {
		t.Fatalf("CANCEL = %v %v, want 200", res, err)
	}
	for {
		select {
		case res := <-tx.Responses():
			if res.StatusCode < 200 {
				continue
			}
			if res.StatusCode != 487 {
				t.Fatalf("INVITE final = %d, want 487", res.StatusCode)
			}
		case <-ctx.Done():
			t.Fatal("no final answer to the cancelled INVITE")
		}
		break
	}
	select {
	case <-ringing.Done():
		if r := ringing.EndReason(); r != "cancelled" {
			t.Fatalf("bob's call ended with %q, want cancelled", r)
		}
	case <-ctx.Done():
		t.Fatal("bob kept ringing: the CANCEL never reached him")
	}
}

func TestAuthenticateCalls(t *testing.T) {
	cfg := testConfig("pool-a", Range{Start: "7000", End: "7099"})
	p := startPool(t, cfg, Options{})
	ctx := testCtx(t)
	alice := newPhone(t, p, "alice", "alice-pw", aliceHz)
	bob := newPhone(t, p, "bob", "bob-pw", bobHz)
	registerAll(t, ctx, alice, bob)

	u := newRawUA(t)
	host, port, _ := sip.ParseAddr(p.Addr())
	message := func(from string) *sip.Request {
		req := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", User: "bob", Host: host, Port: port})
		f := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: from, Host: p.Domain()}, Params: sip.NewParams()}
		f.Params.Add("tag", sip.GenerateTagN(8))
		req.AppendHeader(f)
		req.SetBody([]byte("hi"))
		return req
	}
	res, err := u.client.Do(ctx, message("alice"))
	if err != nil || res.StatusCode != 407 || res.GetHeader("Proxy-Authenticate") == nil {
		t.Fatalf("MESSAGE from alice without credentials = %v %v, want 407", res, err)
	}
	req := message("alice")
	res, _ = u.client.Do(ctx, req)
	if res, err = u.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "bob", Password: "bob-pw"}); err != nil || res.StatusCode != 403 {
		t.Fatalf("MESSAGE from alice with bob's credentials = %v %v, want 403", res, err)
	}
	req = message("alice")
	res, _ = u.client.Do(ctx, req)
	if res, err = u.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "alice", Password: "alice-pw"}); err != nil || res.StatusCode != 200 {
		t.Fatalf("MESSAGE from alice with her credentials = %v %v, want 200", res, err)
	}
	if m := <-bob.Messages(); m.GetHeader("Proxy-Authorization") != nil {
		t.Fatal("the pool forwarded its own credentials")
	}
	// Someone from another domain cannot be checked here and is let through.
	if res, err := u.client.Do(ctx, message("stranger")); err != nil || res.StatusCode != 200 {
		t.Fatalf("MESSAGE from a stranger = %v %v, want 200", res, err)
	}
	<-bob.Messages()
	// A phone that answers 407 calls as usual.
	go func() {
		if in := <-bob.Incoming(); in != nil {
			in.Answer(ctx)
		}
	}()
	call, err := alice.Call(ctx, "sip:bob@"+p.Addr())
	if err != nil {
		t.Fatalf("authenticated call: %v", err)
	}
	call.Hangup(ctx)
}
