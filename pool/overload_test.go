package pool

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestOverloadThreshold: the gate is off only when asked, refuses new calls above
// MaxDelay, and the default guard only while the pool itself keeps a CPU busy.
func TestOverloadThreshold(t *testing.T) {
	if g := newOverloadGate(Overload{Off: true}); g != nil {
		t.Fatal("admission control is on with off: true")
	}
	def := newOverloadGate(Overload{})
	if def == nil || def.max != DefaultMaxDelay {
		t.Fatalf("default guard %+v, want one at %v", def, DefaultMaxDelay)
	}
	def.delay.Store(int64(time.Second))
	def.cpu.Store(300) // 0.3 CPU: late because of others
	if def.overloaded() {
		t.Error("default guard refuses calls while the pool is late but not busy")
	}
	def.cpu.Store(1500)
	if !def.overloaded() {
		t.Error("default guard admits calls while the pool is late and busy")
	}
	g := newOverloadGate(Overload{MaxDelay: 30 * time.Millisecond})
	if g.retryAfter != 2*time.Second {
		t.Errorf("default Retry-After %v, want 2s", g.retryAfter)
	}
	for _, c := range []struct {
		delay time.Duration
		want  bool
	}{{0, false}, {30 * time.Millisecond, false}, {31 * time.Millisecond, true}, {time.Second, true}} {
		g.delay.Store(int64(c.delay))
		if got := g.overloaded(); got != c.want {
			t.Errorf("delay %v: overloaded %v, want %v", c.delay, got, c.want)
		}
	}
}

// TestOverloadAdmits: which requests an overloaded pool refuses. New calls are refused;
// what finishes work already taken (in-dialog requests, Replaces, OPTIONS, ACK, BYE,
// parks, transfers and retrieves) never is, however far behind the pool is.
func TestOverloadAdmits(t *testing.T) {
	cfg := testConfig("pool-a", Range{Start: "7000", End: "7099"})
	cfg.Overload = Overload{MaxDelay: 30 * time.Millisecond, RetryAfter: 3 * time.Second}
	p, err := New(cfg, Options{Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{pool: p}
	req := func(method, user, toTag, extra string) *sip.Request {
		t.Helper()
		return overloadTestRequest(t, method, user, toTag, extra)
	}
	cases := []struct {
		name   string
		req    *sip.Request
		refuse [2]bool // at rest, overloaded
	}{
		{"new call", req("INVITE", "bob", "", ""), [2]bool{false, true}},
		{"REFER outside a dialog", req("REFER", "bob", "", "Refer-To: <sip:park@pool-a>\r\n"), [2]bool{false, true}},
		{"park by transfer", req("INVITE", "park", "", "Referred-By: <sip:alice@pool-a>\r\n"), [2]bool{false, false}},
		{"directed park", req("INVITE", "7005", "", "Referred-By: <sip:alice@pool-a>\r\n"), [2]bool{false, false}},
		{"retrieve", req("INVITE", "7005", "", ""), [2]bool{false, false}},
		{"transfer to a user", req("INVITE", "carol", "", "Referred-By: <sip:park@pool-a>\r\n"), [2]bool{false, false}},
		{"INVITE with Replaces", req("INVITE", "carol", "", "Replaces: c9;to-tag=x;from-tag=y\r\n"), [2]bool{false, false}},
		{"re-INVITE", req("INVITE", "bob", "b", ""), [2]bool{false, false}},
		{"REFER in a dialog", req("REFER", "bob", "b", "Refer-To: <sip:park@pool-a>\r\n"), [2]bool{false, false}},
		{"BYE", req("BYE", "bob", "b", ""), [2]bool{false, false}},
		{"OPTIONS", req("OPTIONS", "pool-a", "", ""), [2]bool{false, false}},
		{"REGISTER", req("REGISTER", "alice", "", ""), [2]bool{false, false}},
	}
	for lvl, delay := range []time.Duration{0, time.Second} {
		p.overload.delay.Store(int64(delay))
		// Every case is one transaction: forget the calls let in at rest, or their
		// copies would pass as retransmissions (TestOverloadTakesRetransmissions).
		p.overload.admitted = admittedCalls{}
		for _, c := range cases {
			e := n.admitOverload(c.req)
			if (e != nil) != c.refuse[lvl] {
				t.Errorf("level %d, %s: refused %v, want %v", lvl, c.name, e != nil, c.refuse[lvl])
				continue
			}
			if e != nil && (e.Code != 503 || e.RetryAfter != 3*time.Second) {
				t.Errorf("level %d, %s: answer %d with Retry-After %v, want 503 with 3s", lvl, c.name, e.Code, e.RetryAfter)
			}
		}
	}
}

// overloadTestRequest is a request from alice for user (in a dialog when toTag is set),
// with extra header lines.
func overloadTestRequest(t *testing.T, method, user, toTag, extra string) *sip.Request {
	t.Helper()
	to := ""
	if toTag != "" {
		to = ";tag=" + toTag
	}
	raw := fmt.Sprintf("%s sip:%s@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-1\r\n"+
		"From: <sip:alice@pool-a>;tag=a\r\nTo: <sip:%s@pool-a>%s\r\nCall-ID: c1\r\nCSeq: 1 %s\r\n%sContent-Length: 0\r\n\r\n",
		method, user, user, to, method, extra)
	m, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return m.(*sip.Request)
}

// TestOverloadRefusesOverUDP: a pool that is always behind (maxDelay 1 ns: any timer
// wakes later than that) answers a new call 503 with Retry-After and a Warning, from the
// read loop, and still answers OPTIONS 200.
func TestOverloadRefusesOverUDP(t *testing.T) {
	cfg := testConfig("pool-a", Range{Start: "7000", End: "7099"})
	cfg.Overload = Overload{MaxDelay: time.Nanosecond}
	p := startPool(t, cfg, Options{})
	c := dialUDP(t, p.Addr())
	deadline := time.Now().Add(10 * time.Second)
	for {
		invite := strings.Replace(rawRequest(c.LocalAddr(), "UDP", "carol", "1 INVITE", ""), "OPTIONS sip:", "INVITE sip:", 1)
		if _, err := c.Write([]byte(invite)); err != nil {
			t.Fatal(err)
		}
		msg := readMessage(t, c, 2*time.Second)
		if strings.HasPrefix(msg, "SIP/2.0 503 Overloaded") {
			if !strings.Contains(msg, "\r\nRetry-After: 2") || !strings.Contains(msg, "pool overloaded") {
				t.Fatalf("503 without Retry-After 2 or the Warning:\n%s", msg)
			}
			// The tag that lets the read loop drop the ACK for it, not relay it to the
			// callee as an ACK for a call it never saw.
			if !strings.Contains(msg, ";tag="+floodTagPrefix) {
				t.Fatalf("503 without the pool's own To tag:\n%s", msg)
			}
			break
		}
		// Before the probe's first measurement the call may still be taken.
		if time.Now().After(deadline) {
			t.Fatalf("no 503 Overloaded within 10 s; last answer:\n%s", msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := c.Write([]byte(rawRequest(c.LocalAddr(), "UDP", "", "1 OPTIONS", ""))); err != nil {
		t.Fatal(err)
	}
	for {
		msg := readMessage(t, c, 2*time.Second)
		if msg == "" {
			t.Fatal("OPTIONS of an overloaded pool not answered within 2 s")
		}
		if strings.Contains(msg, "CSeq: 1 OPTIONS") {
			if !strings.HasPrefix(msg, "SIP/2.0 200") {
				t.Fatalf("OPTIONS of an overloaded pool answered:\n%s", msg)
			}
			break
		}
	}
}

// readMessage reads one datagram, or "" after wait.
func readMessage(t *testing.T, c interface {
	Read([]byte) (int, error)
	SetReadDeadline(time.Time) error
}, wait time.Duration) string {
	t.Helper()
	buf := make([]byte, 65535)
	c.SetReadDeadline(time.Now().Add(wait))
	n, err := c.Read(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// TestOverloadQueueProbe: the gate's pings reach the read loops of the pool's socket
// and the park service's (which consume them: they are not SIP) and measure how long
// those take to get to them; a read loop that gets to none — a socket nobody reads —
// counts as behind by the ping's age, so new calls are refused.
func TestOverloadQueueProbe(t *testing.T) {
	cfg := testConfig("pool-a", Range{Start: "7000", End: "7099"})
	cfg.Overload = Overload{MaxDelay: time.Hour} // measure only
	p := startPool(t, cfg, Options{})
	p.mu.Lock()
	n := p.node
	p.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for n.ping.last.Load() == 0 || p.parkPing.Load().last.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("pings not read within 10 s: pool's %v, park service's %v", n.ping.last.Load(), p.parkPing.Load().last.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	g := p.overload
	t.Logf("read-queue delay %v, scheduling delay %v", time.Duration(g.queue.Load()), time.Duration(g.sched.Load()))

	deaf, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer deaf.Close()
	q, err := newQueueProbe(deaf.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	stalled := newOverloadGate(Overload{MaxDelay: 30 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); stalled.probe(ctx, q) }()
	defer func() { cancel(); <-done }()
	deadline = time.Now().Add(10 * time.Second)
	for !stalled.overloaded() {
		if time.Now().After(deadline) {
			t.Fatalf("a read loop that reads nothing still counts as keeping up after 10 s (read-queue delay %v)",
				time.Duration(stalled.queue.Load()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if q.last.Load() != 0 {
		t.Error("a ping nobody read was counted as arrived")
	}
}

// TestOverloadHold: once behind, the gate keeps new calls out for overloadHold after
// the delay is back under the limit, then lets them in again.
func TestOverloadHold(t *testing.T) {
	g := newOverloadGate(Overload{MaxDelay: 30 * time.Millisecond})
	g.delay.Store(int64(time.Second))
	g.holdUntil.Store(nanotime() + int64(overloadHold)) // what the probe does when behind
	g.delay.Store(0)
	if !g.overloaded() {
		t.Error("the door opened the moment the delay was back under the limit")
	}
	g.holdUntil.Store(nanotime() - 1)
	if g.overloaded() {
		t.Error("the door stayed shut after the hold")
	}
}

// TestOverloadIdlePace: a pool that reads nothing but OPTIONS for idleAfter measures at
// the idle pace, and the next other message puts it back at the full pace.
func TestOverloadIdlePace(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	g := p.overload
	c := dialUDP(t, p.Addr())
	send := func(method string) {
		req := strings.Replace(rawRequest(c.LocalAddr(), "UDP", "carol", "1 "+method, ""), "OPTIONS sip:", method+" sip:", 1)
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
	}
	// Health probes do not keep it at the full pace.
	deadline := time.Now().Add(idleAfter + 500*time.Millisecond)
	for time.Now().Before(deadline) {
		send("OPTIONS")
		time.Sleep(200 * time.Millisecond)
	}
	before := g.ticks.Load()
	time.Sleep(time.Second)
	// The idle pace is two a second; the full one a hundred (fewer on a busy machine,
	// never more).
	if n := g.ticks.Load() - before; n > 5 {
		t.Fatalf("%d measurements in the second after %v with only OPTIONS, want the idle pace (%v)", n, idleAfter, idleEvery)
	}
	send("INVITE")
	before = g.ticks.Load()
	const want = 20 // 10 s at the idle pace, 200 ms at the full one
	deadline = time.Now().Add(5 * time.Second)
	for g.ticks.Load()-before < want {
		if time.Now().After(deadline) {
			t.Fatalf("%d measurements in the 5 s after an INVITE, want %d (the full pace)", g.ticks.Load()-before, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
