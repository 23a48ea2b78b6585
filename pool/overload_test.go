package pool

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestOverloadLevels: the gate is off without MaxDelay, refuses new calls above it and
// parks and retrieves too above twice it.
func TestOverloadLevels(t *testing.T) {
	if g := newOverloadGate(Overload{}); g != nil {
		t.Fatal("admission control is on without maxDelay")
	}
	g := newOverloadGate(Overload{MaxDelay: 30 * time.Millisecond})
	if g.retryAfter != 2*time.Second {
		t.Errorf("default Retry-After %v, want 2s", g.retryAfter)
	}
	for _, c := range []struct {
		delay time.Duration
		want  int
	}{{0, 0}, {30 * time.Millisecond, 0}, {31 * time.Millisecond, 1}, {60 * time.Millisecond, 1}, {61 * time.Millisecond, 2}} {
		g.delay.Store(int64(c.delay))
		if got := g.level(); got != c.want {
			t.Errorf("delay %v: level %d, want %d", c.delay, got, c.want)
		}
	}
}

// TestOverloadAdmits: which requests an overloaded pool refuses, at each level. New work
// is refused; what finishes work already taken (in-dialog requests, Replaces, OPTIONS,
// ACK, BYE) never is; parks, transfers and retrieves only at the second level.
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
	cases := []struct {
		name   string
		req    *sip.Request
		refuse [3]bool // at level 0, 1, 2
	}{
		{"new call", req("INVITE", "bob", "", ""), [3]bool{false, true, true}},
		{"REFER outside a dialog", req("REFER", "bob", "", "Refer-To: <sip:park@pool-a>\r\n"), [3]bool{false, true, true}},
		{"park by transfer", req("INVITE", "park", "", "Referred-By: <sip:alice@pool-a>\r\n"), [3]bool{false, false, true}},
		{"directed park", req("INVITE", "7005", "", "Referred-By: <sip:alice@pool-a>\r\n"), [3]bool{false, false, true}},
		{"retrieve", req("INVITE", "7005", "", ""), [3]bool{false, false, true}},
		{"transfer to a user", req("INVITE", "carol", "", "Referred-By: <sip:park@pool-a>\r\n"), [3]bool{false, false, true}},
		{"INVITE with Replaces", req("INVITE", "carol", "", "Replaces: c9;to-tag=x;from-tag=y\r\n"), [3]bool{false, false, false}},
		{"re-INVITE", req("INVITE", "bob", "b", ""), [3]bool{false, false, false}},
		{"REFER in a dialog", req("REFER", "bob", "b", "Refer-To: <sip:park@pool-a>\r\n"), [3]bool{false, false, false}},
		{"BYE", req("BYE", "bob", "b", ""), [3]bool{false, false, false}},
		{"OPTIONS", req("OPTIONS", "pool-a", "", ""), [3]bool{false, false, false}},
		{"REGISTER", req("REGISTER", "alice", "", ""), [3]bool{false, false, false}},
	}
	for lvl, delay := range []time.Duration{0, 40 * time.Millisecond, 80 * time.Millisecond} {
		p.overload.delay.Store(int64(delay))
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
