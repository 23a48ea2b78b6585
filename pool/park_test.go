package pool

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/siptest"
)

const (
	aliceHz = 350
	bobHz   = 1500
	carolHz = 1800
)

func registerAll(t *testing.T, ctx context.Context, phones ...*siptest.Phone) {
	t.Helper()
	for _, ph := range phones {
		if _, err := ph.Register(ctx, time.Hour); err != nil {
			t.Fatalf("register %s: %v", ph.URI(), err)
		}
	}
}

// parkVia has alice call bob through p and blind-transfer him to sip:park@p; it returns
// bob's call with the park service (or the REFER's failure code).
func parkVia(t *testing.T, ctx context.Context, p *Pool, alice, bob *siptest.Phone) (*siptest.Call, int) {
	t.Helper()
	answered := make(chan *siptest.Call, 1)
	go func() {
		select {
		case c := <-bob.Incoming():
			c.Answer(ctx)
			answered <- c
		case <-ctx.Done():
		}
	}()
	ab, err := alice.Call(ctx, "sip:"+bob.AOR().User+"@"+p.Addr())
	if err != nil {
		t.Fatalf("alice calls bob: %v", err)
	}
	var ba *siptest.Call
	select {
	case ba = <-answered:
	case <-ctx.Done():
		t.Fatal("bob never got the call")
	}
	code, err := ab.Refer(ctx, "sip:"+parkwire.ParkUser+"@"+p.Addr())
	if err != nil {
		t.Fatalf("refer: %v", err)
	}
	ab.Hangup(ctx)
	if code != 200 {
		return nil, code
	}
	bp, err := ba.Successor(ctx)
	if err != nil {
		t.Fatalf("bob's call with the park service: %v", err)
	}
	return bp, code
}

// TestParkAndRetrieveAcrossPools: a call parked on pool-b is retrieved by a user
// registered at pool-a, who dials the orbit at its own pool (orbits are globally unique,
// ARCHITECTURE.md §3), and afterwards the two phones talk directly.
func TestParkAndRetrieveAcrossPools(t *testing.T) {
	ctx := testCtx(t)
	pa, pb := startPair(t)
	alice := newPhone(t, pb, "alice", "alice-demo", aliceHz)
	bob := newPhone(t, pb, "bob", "bob-demo", bobHz)
	carol := newPhone(t, pa, "carol", "carol-demo", carolHz)
	registerAll(t, ctx, alice, bob, carol)
	events, stop := pb.Park().Events()
	defer stop()

	bp, code := parkVia(t, ctx, pb, alice, bob)
	if bp == nil {
		t.Fatalf("park refused with %d", code)
	}
	var orbit string
	waitFor(t, "parked on pool-b", func() bool {
		ps := pb.Park().Parked()
		if len(ps) == 1 {
			orbit = ps[0].Orbit
		}
		return orbit != ""
	})
	if !strings.HasPrefix(orbit, "80") {
		t.Fatalf("orbit %q is not pool-b's", orbit)
	}
	// The parker is told the orbit through pool-b's proxy.
	select {
	case m := <-alice.Messages():
		if !strings.Contains(string(m.Body()), orbit) {
			t.Errorf("parker told %q, want orbit %s", m.Body(), orbit)
		}
	case <-ctx.Done():
		t.Fatal("parker never told the orbit")
	}
	waitFor(t, "pool-b's music on hold (1000 Hz)", func() bool { return bp.Media().HeardTone(1000) })

	cp, err := carol.Call(ctx, "sip:"+orbit+"@"+pa.Addr())
	if err != nil {
		t.Fatalf("carol retrieves %s via pool-a: %v", orbit, err)
	}
	cb, err := cp.Successor(ctx)
	if err != nil {
		t.Fatalf("carol's call with bob: %v", err)
	}
	bc, err := bp.Successor(ctx)
	if err != nil {
		t.Fatalf("bob's call with carol: %v", err)
	}
	waitFor(t, "retrieved event", func() bool {
		for {
			select {
			case e := <-events:
				if e.Call.State == parkwire.StateRetrieved {
					return true
				}
			default:
				return false
			}
		}
	})
	waitFor(t, "carol hears bob", func() bool { return cb.Media().HeardTone(bobHz) })
	waitFor(t, "bob hears carol", func() bool { return bc.Media().HeardTone(carolHz) })
	cb.Media().ResetStats()
	waitFor(t, "fresh audio", func() bool { return cb.Media().Packets() > 25 })
	for src := range cb.Media().Sources() {
		if src != bc.Media().LocalAddr().String() {
			t.Errorf("carol receives RTP from %s, want only bob's %s", src, bc.Media().LocalAddr())
		}
	}
	if ps := pb.Park().Parked(); len(ps) != 0 {
		t.Errorf("still parked: %+v", ps)
	}
}

// TestDrain: SIGTERM's behaviour. Health answers 503, a new park is refused with 503,
// the call already parked stays retrievable, and Drained closes once it is gone.
func TestDrain(t *testing.T) {
	ctx := testCtx(t)
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	alice := newPhone(t, p, "alice", "alice-pw", aliceHz)
	bob := newPhone(t, p, "bob", "bob-pw", bobHz)
	carol := newPhone(t, p, "carol", "carol-pw", carolHz)
	dave := newPhone(t, p, "dave", "dave-pw", 0)
	registerAll(t, ctx, alice, bob, carol, dave)

	bp, code := parkVia(t, ctx, p, alice, bob)
	if bp == nil {
		t.Fatalf("park refused with %d", code)
	}
	waitFor(t, "parked", func() bool { return len(p.Park().Parked()) == 1 })
	p.Drain()
	select {
	case <-p.Drained():
		t.Fatal("Drained closed while a call is parked")
	default:
	}
	// carol and dave: a new park is refused (the REFER's NOTIFY carries the 503).
	if bp2, code := parkVia(t, ctx, p, carol, dave); bp2 != nil || code != 503 {
		t.Fatalf("park while draining: code %d, want 503", code)
	}
	orbit := p.Park().Parked()[0].Orbit
	cp, err := carol.Call(ctx, "sip:"+orbit+"@"+p.Addr())
	if err != nil {
		t.Fatalf("retrieve while draining: %v", err)
	}
	if _, err := cp.Successor(ctx); err != nil {
		t.Fatalf("retrieve while draining: %v", err)
	}
	select {
	case <-p.Drained():
	case <-ctx.Done():
		t.Fatal("Drained never closed after the last parked call was retrieved")
	}
}

// TestDrainedAfterRestart: a pool drained and stopped, then started again, is serving
// and not drained; draining it again closes the new run's Drained (once, no panic).
func TestDrainedAfterRestart(t *testing.T) {
	ctx := testCtx(t)
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	p.Drain()
	select {
	case <-p.Drained():
	case <-ctx.Done():
		t.Fatal("Drained never closed with nothing parked")
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Drained():
		t.Fatal("Drained still closed after the pool was started again")
	default:
	}
	if p.Draining() {
		t.Fatal("restarted pool still draining")
	}
	p.Drain()
	select {
	case <-p.Drained():
	case <-ctx.Done():
		t.Fatal("Drained of the restarted pool never closed")
	}
}

// TestStopClosesDrained: stopping a draining pool that still holds a parked call
// releases whoever waits on Drained, since nobody can be cut off any more.
func TestStopClosesDrained(t *testing.T) {
	ctx := testCtx(t)
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	alice := newPhone(t, p, "alice", "alice-pw", aliceHz)
	bob := newPhone(t, p, "bob", "bob-pw", bobHz)
	registerAll(t, ctx, alice, bob)
	if bp, code := parkVia(t, ctx, p, alice, bob); bp == nil {
		t.Fatalf("park refused with %d", code)
	}
	waitFor(t, "parked", func() bool { return len(p.Park().Parked()) == 1 })
	p.Drain()
	drained := p.Drained()
	select {
	case <-drained:
		t.Fatal("Drained closed while a call is parked")
	default:
	}
	p.Stop()
	select {
	case <-drained:
	case <-ctx.Done():
		t.Fatal("Drained never closed after Stop")
	}
}

// TestRingBackFollowsMovedParker: alice parks bob on pool-a, then her phone moves to
// pool-b (as a redirect during failover does). When nobody picks the call up, pool-a's
// park service rings her back through pool-a's proxy, which has no binding for her and
// finds her at its peer.
func TestRingBackFollowsMovedParker(t *testing.T) {
	ctx := testCtx(t)
	ca, cb := DemoConfigs("127.0.0.1")
	ca.Listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	cb.Listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	ca.Peer.Addr, cb.Peer.Addr = cb.Listen, ca.Listen
	pa := startPool(t, ca, Options{testPickupTimeout: time.Second})
	pb := startPool(t, cb, Options{})

	alice := newPhone(t, pa, "alice", "alice-demo", aliceHz)
	bob := newPhone(t, pa, "bob", "bob-demo", bobHz)
	registerAll(t, ctx, alice, bob)
	if bp, code := parkVia(t, ctx, pa, alice, bob); bp == nil {
		t.Fatalf("park refused with %d", code)
	}
	orbit := ""
	waitFor(t, "parked on pool-a", func() bool {
		if ps := pa.Park().Parked(); len(ps) == 1 {
			orbit = ps[0].Orbit
		}
		return orbit != ""
	})
	// alice's phone signs out of pool-a and in at pool-b.
	if _, err := alice.Register(ctx, 0); err != nil {
		t.Fatalf("alice leaves pool-a: %v", err)
	}
	movedAlice := newPhone(t, pb, "alice", "alice-demo", aliceHz)
	registerAll(t, ctx, movedAlice)
	if c := pa.Contacts("alice"); len(c) != 0 {
		t.Fatalf("alice still bound at pool-a: %v", c)
	}

	select {
	case c := <-movedAlice.Incoming():
		if from := c.Request().From().DisplayName; !strings.Contains(from, orbit) {
			t.Errorf("ring-back from %q, want the orbit %s in it", from, orbit)
		}
		c.Reject(ctx, 486, "Busy Here")
	case <-ctx.Done():
		t.Fatal("the ring-back never reached alice at pool-b")
	}
}

// TestVacantOrbitAnsweredByPool: a retrieve of one of the pool's orbits where no call is
// gets the park service's 404 "Orbit not found" (with its ms-diagnostics) from the pool
// itself, statelessly — no 100 Trying before it, the pool's own To tag (so its ACK is
// dropped as a flood 503's) — while a caller the pool must authenticate first still gets
// its challenge.
func TestVacantOrbitAnsweredByPool(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	c := dialUDP(t, p.Addr())
	local := c.LocalAddr().String()
	invite := func(from, branch string) string {
		return "INVITE sip:7005@pool-a SIP/2.0\r\nVia: SIP/2.0/UDP " + local + ";branch=z9hG4bK-" + branch + "\r\n" +
			"From: <sip:" + from + "@pool-a>;tag=f" + branch + "\r\nTo: <sip:7005@pool-a>\r\nCall-ID: " + branch + "@127.0.0.1\r\n" +
			"CSeq: 1 INVITE\r\nContact: <sip:" + from + "@" + local + ">\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	}
	read := func(what string) string {
		t.Helper()
		buf := make([]byte, 65535)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		return string(buf[:n])
	}
	if _, err := c.Write([]byte(invite("tester", "v1"))); err != nil {
		t.Fatal(err)
	}
	res := read("the answer to a retrieve of an empty orbit")
	line, _, _ := strings.Cut(res, "\r\n")
	if line != "SIP/2.0 404 Orbit not found" {
		t.Fatalf("first answer to a retrieve of an empty orbit: %q, want the 404 at once\n%s", line, res)
	}
	if !strings.Contains(res, "ms-diagnostics: 13001") || !strings.Contains(res, parkwire.OrbitHeader+": 7005") {
		t.Fatalf("the 404 lacks the park service's ms-diagnostics or orbit:\n%s", res)
	}
	if !strings.Contains(res, ";tag="+floodTagPrefix) {
		t.Fatalf("the 404 is not the pool's own (stateless) answer:\n%s", res)
	}
	// Its ACK, then the next request, answered as before.
	_, toTag, _ := strings.Cut(res, ";tag="+floodTagPrefix)
	toTag, _, _ = strings.Cut(toTag, "\r\n")
	ack := strings.Replace(strings.Replace(invite("tester", "v1"), "INVITE sip:", "ACK sip:", 1), "CSeq: 1 INVITE", "CSeq: 1 ACK", 1)
	ack = strings.Replace(ack, "To: <sip:7005@pool-a>", "To: <sip:7005@pool-a>;tag="+floodTagPrefix+toTag, 1)
	if _, err := c.Write([]byte(ack)); err != nil {
		t.Fatal(err)
	}
	// One of the pool's users without credentials: challenged first, as any call of theirs.
	if _, err := c.Write([]byte(invite("alice", "v2"))); err != nil {
		t.Fatal(err)
	}
	if line, _, _ := strings.Cut(read("the answer to alice's unauthenticated retrieve"), "\r\n"); !strings.HasPrefix(line, "SIP/2.0 407") {
		t.Fatalf("alice's retrieve without credentials: %q, want 407", line)
	}
}
