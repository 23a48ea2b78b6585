package pool

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/internal/freeport"
)

func TestOptionsHealth(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	u := newRawUA(t)
	host, port, _ := sip.ParseAddr(p.Addr())
	options := func() int {
		req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: host, Port: port})
		res, err := u.client.Do(testCtx(t), req)
		if err != nil {
			t.Fatalf("OPTIONS: %v", err)
		}
		return res.StatusCode
	}
	if got := options(); got != 200 {
		t.Fatalf("OPTIONS while serving = %d, want 200", got)
	}
	p.Drain()
	if got := options(); got != 503 {
		t.Fatalf("OPTIONS while draining = %d, want 503", got)
	}
}

func TestRegisterDigest(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	u := newRawUA(t)
	contact := "<sip:alice@" + u.addr + ">"

	res, err := u.client.Do(testCtx(t), registerReq(p, "alice", contact, 300))
	if err != nil || res.StatusCode != 401 {
		t.Fatalf("REGISTER without credentials = %v %v, want 401", res, err)
	}
	chals := res.GetHeaders("WWW-Authenticate")
	if len(chals) != 2 || !strings.Contains(chals[0].Value(), "SHA-256") || !strings.Contains(chals[1].Value(), "MD5") {
		t.Fatalf("challenges = %v, want SHA-256 then MD5", chals)
	}

	res = u.doAuth(t, registerReq(p, "alice", contact, 300), "alice", "wrong")
	if res.StatusCode != 403 {
		t.Fatalf("REGISTER with wrong password = %d, want 403", res.StatusCode)
	}
	res = u.doAuth(t, registerReq(p, "alice", contact, 300), "alice", "alice-pw")
	if res.StatusCode != 200 {
		t.Fatalf("REGISTER = %d, want 200", res.StatusCode)
	}
	if got := p.Contacts("alice"); len(got) != 1 || !strings.Contains(got[0], u.addr) {
		t.Fatalf("contacts = %v", got)
	}
}

// fakeClock is the registrar's clock in tests: bindings and nonces expire when the test
// says so, without sleeping.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func contactsIn(res *sip.Response) map[string]string {
	out := map[string]string{}
	for _, h := range res.GetHeaders("Contact") {
		ch := h.(*sip.ContactHeader)
		e, _ := ch.Params.Get("expires")
		out[ch.Address.HostPort()] = e
	}
	return out
}

func TestRegisterExpiresAndContacts(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{Now: clock.Now, MinExpires: time.Minute, MaxExpires: time.Hour})
	u := newRawUA(t)
	reg := func(contact string, expires int) *sip.Response {
		t.Helper()
		return u.doAuth(t, registerReq(p, "alice", contact, expires), "alice", "alice-pw")
	}

	// Too short: 423 with Min-Expires (RFC 3261 §10.3 step 6).
	res := reg("<sip:alice@127.0.0.1:40001>", 10)
	if res.StatusCode != 423 || res.GetHeader("Min-Expires") == nil || res.GetHeader("Min-Expires").Value() != "60" {
		t.Fatalf("Expires 10 = %d %v, want 423 with Min-Expires: 60", res.StatusCode, res.GetHeader("Min-Expires"))
	}
	// Two contacts; the 200 lists both with their remaining time. A long one is clamped.
	if res = reg("<sip:alice@127.0.0.1:40001>", 120); res.StatusCode != 200 {
		t.Fatalf("register = %d", res.StatusCode)
	}
	res = reg("<sip:alice@127.0.0.1:40002>;expires=99999", -1)
	got := contactsIn(res)
	if len(got) != 2 || got["127.0.0.1:40001"] != "120" || got["127.0.0.1:40002"] != "3600" {
		t.Fatalf("200 lists %v, want 40001=120 and 40002=3600", got)
	}
	// A query (no Contact) lists the bindings without changing them.
	if got := contactsIn(reg("", -1)); len(got) != 2 {
		t.Fatalf("query lists %v", got)
	}
	// The newest contact is the one the proxy uses.
	if c := p.Contacts("alice"); len(c) != 2 || !strings.Contains(c[0], "40002") {
		t.Fatalf("contacts %v, want 40002 first", c)
	}
	// Stale contacts expire: after 121 s only the hour-long one remains.
	clock.Advance(121 * time.Second)
	if c := p.Contacts("alice"); len(c) != 1 || !strings.Contains(c[0], "40002") {
		t.Fatalf("after expiry contacts = %v", c)
	}
	if n := p.bindings.Expire(clock.Now()); n != 1 {
		t.Fatalf("janitor dropped %d bindings, want 1", n)
	}
	// Un-REGISTER one contact with Expires: 0.
	reg("<sip:alice@127.0.0.1:40001>", 120)
	if got := contactsIn(reg("<sip:alice@127.0.0.1:40002>", 0)); len(got) != 1 || got["127.0.0.1:40001"] == "" {
		t.Fatalf("after removing 40002: %v", got)
	}
	// "*" needs Expires: 0 …
	if res := reg("*", 60); res.StatusCode != 400 {
		t.Fatalf("Contact * with Expires 60 = %d, want 400", res.StatusCode)
	}
	// … and then removes everything.
	if res := reg("*", 0); res.StatusCode != 200 || len(contactsIn(res)) != 0 {
		t.Fatalf("Contact * = %d %v", res.StatusCode, contactsIn(res))
	}
	if c := p.Contacts("alice"); len(c) != 0 {
		t.Fatalf("after * contacts = %v", c)
	}
	// A contact with a host name is refused: the proxy never resolves names.
	if res := reg("<sip:alice@phone.example>", 120); res.StatusCode != 400 {
		t.Fatalf("hostname contact = %d, want 400", res.StatusCode)
	}
}

func TestRegisterOnlyOwnAOR(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	u := newRawUA(t)
	// bob's credentials cannot register alice (RFC 3261 §10.3 step 4).
	res := u.doAuth(t, registerReq(p, "alice", "<sip:alice@127.0.0.1:40001>", 120), "bob", "bob-pw")
	if res.StatusCode != 403 {
		t.Fatalf("bob registering alice = %d, want 403", res.StatusCode)
	}
	// An unknown user cannot authenticate.
	res = u.doAuth(t, registerReq(p, "zed", "<sip:zed@127.0.0.1:40001>", 120), "zed", "x")
	if res.StatusCode != 403 {
		t.Fatalf("unknown user = %d, want 403", res.StatusCode)
	}
}

func TestStaleNonce(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	cfg := testConfig("pool-a", Range{Start: "7000", End: "7099"})
	cfg.DigestAlgorithms = []string{"MD5"}
	p := startPool(t, cfg, Options{Now: clock.Now, NonceTTL: time.Minute})
	u := newRawUA(t)
	ctx := testCtx(t)
	req := registerReq(p, "alice", "<sip:alice@127.0.0.1:40001>", 120)
	res, err := u.client.Do(ctx, req)
	if err != nil || res.StatusCode != 401 {
		t.Fatalf("first REGISTER = %v %v", res, err)
	}
	if h := res.GetHeaders("WWW-Authenticate"); len(h) != 1 || !strings.Contains(h[0].Value(), "MD5") {
		t.Fatalf("challenges %v, want MD5 only", h)
	}
	clock.Advance(2 * time.Minute)
	res, err = u.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "alice", Password: "alice-pw"})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 401 || !strings.Contains(res.GetHeader("WWW-Authenticate").Value(), "stale=true") {
		t.Fatalf("answer to an expired nonce = %d %v, want 401 stale=true", res.StatusCode, res.GetHeader("WWW-Authenticate"))
	}
	// The phone retries with the fresh nonce, no password prompt needed.
	res, err = u.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "alice", Password: "alice-pw"})
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("retry with fresh nonce = %v %v", res, err)
	}
	// A nonce we never issued gets a fresh challenge, not stale.
	bad := registerReq(p, "alice", "<sip:alice@127.0.0.1:40001>", 120)
	bad.AppendHeader(sip.NewHeader("Authorization", `Digest username="alice", realm="pool-a", nonce="forged", uri="sip:127.0.0.1", response="00"`))
	res, err = u.client.Do(ctx, bad)
	if err != nil || res.StatusCode != 401 || strings.Contains(res.GetHeader("WWW-Authenticate").Value(), "stale") {
		t.Fatalf("forged nonce = %v %v, want 401 without stale", res, err)
	}
	// An unparseable Authorization is a 400.
	bad = registerReq(p, "alice", "<sip:alice@127.0.0.1:40001>", 120)
	bad.AppendHeader(sip.NewHeader("Authorization", `Digest username="alice, realm=`))
	if res, err = u.client.Do(ctx, bad); err != nil || res.StatusCode != 400 {
		t.Fatalf("garbled Authorization = %v %v, want 400", res, err)
	}
}

func TestStopStartRebindsSameAddress(t *testing.T) {
	// Ports outside the kernel's ephemeral range: no other test's socket takes them while
	// the pool is stopped (TestDemoPoolsRestartOnTheirPorts).
	cfg := testConfig("pool-a", Range{Start: "7000", End: "7099"})
	ports, err := freeSIPPorts("127.0.0.1", freeport.Default(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.ParkListen = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])), net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	p := startPool(t, cfg, Options{})
	u := newRawUA(t)
	addr, parkAddr := p.Addr(), p.ParkAddr()
	if res := u.doAuth(t, registerReq(p, "alice", "<sip:alice@"+u.addr+">", 300), "alice", "alice-pw"); res.StatusCode != 200 {
		t.Fatalf("register = %d", res.StatusCode)
	}
	for i := 0; i < 3; i++ {
		if err := p.Stop(); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if p.Running() {
			t.Fatal("Running after Stop")
		}
		// Stopped means gone: nothing listens on the TCP port.
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Fatal("TCP still accepting after Stop")
		}
		if err := p.Start(context.Background()); err != nil {
			t.Fatalf("Start again: %v", err)
		}
		if p.Addr() != addr || p.ParkAddr() != parkAddr {
			t.Fatalf("rebound on %s/%s, want %s/%s", p.Addr(), p.ParkAddr(), addr, parkAddr)
		}
		host, port, _ := sip.ParseAddr(addr)
		res, err := u.client.Do(testCtx(t), sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: host, Port: port}))
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("OPTIONS after restart = %v %v", res, err)
		}
	}
	// Registrations survive a restart, as if kept in a back-end store.
	if c := p.Contacts("alice"); len(c) != 1 {
		t.Fatalf("contacts after restart = %v", c)
	}
}
