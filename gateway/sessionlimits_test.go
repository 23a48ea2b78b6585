package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parkway/parkway/gateway/auth"
	"github.com/parkway/parkway/signaling"
)

// dialFrom opens a websocket from the loopback address src (any of 127.0.0.0/8), with
// extra request headers; it returns the connection, or the HTTP answer that refused it.
func (g *testGateway) dialFrom(t *testing.T, src string, h http.Header) (*websocket.Conn, *http.Response) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, g.ws, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}, HTTPHeader: h})
	if err != nil {
		if resp == nil {
			t.Fatalf("dial from %s: %v", src, err)
		}
		return nil, resp
	}
	t.Cleanup(func() { conn.CloseNow() })
	return conn, resp
}

// expectRefused checks that a dial was answered 429 with the per-address error.
func expectRefused(t *testing.T, conn *websocket.Conn, resp *http.Response, what string) {
	t.Helper()
	if conn != nil {
		t.Fatalf("%s: connected, want 429", what)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), "too-many-sessions-from-address") || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%s: %d %s (Retry-After %q), want 429 too-many-sessions-from-address", what, resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
}

// One client address holds at most MaxSessionsPerIP websockets — unauthenticated ones
// count — and the next gets 429 with a body saying why; another address is not affected,
// and a closed session frees its place (issue 13).
func TestSessionsPerAddressLimit(t *testing.T) {
	g := startGateway(t, func(c *Config) { c.MaxSessionsPerIP = 3 })
	var open []*websocket.Conn
	for i := 0; i < 3; i++ {
		conn, resp := g.dialFrom(t, "127.0.0.1", nil)
		if conn == nil {
			t.Fatalf("session %d refused: %d", i+1, resp.StatusCode)
		}
		open = append(open, conn)
	}
	conn, resp := g.dialFrom(t, "127.0.0.1", nil)
	expectRefused(t, conn, resp, "a fourth session from 127.0.0.1")
	if conn, _ := g.dialFrom(t, "127.0.0.2", nil); conn == nil {
		t.Fatal("127.0.0.2 was refused for 127.0.0.1's sessions")
	}
	// The sessions that are open still work: one signs in and is served.
	c := &client{t: t, conn: open[0]}
	c.send(signaling.Encode("a1", &signaling.Auth{Token: g.signIn(t, "alice")}))
	expect[*signaling.Welcome](c)
	// Closing one frees a place once the gateway has seen it go.
	open[1].Close(websocket.StatusNormalClosure, "bye")
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, _ := g.dialFrom(t, "127.0.0.1", nil)
		if conn != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no place freed 10 s after a session closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The default is DefaultMaxSessionsPerIP, for loopback too.
func TestSessionsPerAddressDefault(t *testing.T) {
	g := startGateway(t, func(c *Config) { c.MaxSessionsPerIP = 0 })
	for i := 0; i < DefaultMaxSessionsPerIP; i++ {
		if conn, resp := g.dialFrom(t, "127.0.0.1", nil); conn == nil {
			t.Fatalf("session %d refused: %d", i+1, resp.StatusCode)
		}
	}
	conn, resp := g.dialFrom(t, "127.0.0.1", nil)
	expectRefused(t, conn, resp, "session past the default")
}

// X-Forwarded-For names the client only behind a trusted proxy: without
// TrustedProxies anyone could send it to dodge the limit.
func TestSessionsPerAddressBehindProxy(t *testing.T) {
	xff := func(v string) http.Header { return http.Header{"X-Forwarded-For": {v}} }
	t.Run("untrusted", func(t *testing.T) {
		g := startGateway(t, func(c *Config) { c.MaxSessionsPerIP = 1 })
		if conn, _ := g.dialFrom(t, "127.0.0.1", xff("192.0.2.1")); conn == nil {
			t.Fatal("first session refused")
		}
		conn, resp := g.dialFrom(t, "127.0.0.1", xff("192.0.2.2"))
		expectRefused(t, conn, resp, "a forged X-Forwarded-For from an untrusted peer")
	})
	t.Run("trusted", func(t *testing.T) {
		g := startGateway(t, func(c *Config) {
			c.MaxSessionsPerIP = 1
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		})
		// The proxy appends the address it saw; what the client wrote is left of it.
		if conn, _ := g.dialFrom(t, "127.0.0.1", xff("198.51.100.7, 192.0.2.1")); conn == nil {
			t.Fatal("192.0.2.1's first session refused")
		}
		if conn, _ := g.dialFrom(t, "127.0.0.1", xff("192.0.2.2")); conn == nil {
			t.Fatal("192.0.2.2 was refused for 192.0.2.1's session")
		}
		conn, resp := g.dialFrom(t, "127.0.0.1", xff("203.0.113.9, 192.0.2.1"))
		expectRefused(t, conn, resp, "192.0.2.1's second session, whatever it claims left of the proxy's entry")
	})
}

// A session whose token is about to expire is sent reauth with the deadline; an auth
// with a fresh token answers it (welcome) and the session outlives the first token. A
// session that does not answer is closed at the deadline with an unauthorized error
// saying why, and 1008 (issue 13).
func TestReauthBeforeExpiry(t *testing.T) {
	t.Parallel()
	g := startGateway(t, func(c *Config) {
		c.SessionTTL = 3 * time.Second // tokens carry whole seconds: expiry in 2–3 s
		c.ReauthLead = 1500 * time.Millisecond
		c.PingInterval = 50 * time.Millisecond
	})
	renews, _ := g.connect(t, "alice")
	_, r := await(renews, "the reauth request", true, func(_ signaling.Envelope, r *signaling.Reauth) bool { return true })
	if left := time.Until(r.Deadline); left <= 0 || left > 1600*time.Millisecond {
		t.Fatalf("reauth with %v left, want at most the 1.5 s lead", left)
	}
	first := r.Deadline
	renews.send(signaling.Encode("r1", &signaling.Auth{Token: g.signIn(t, "alice")}))
	if w := expect[*signaling.Welcome](renews); w.User != "alice" {
		t.Fatalf("welcome after renewal %+v", w)
	}
	// Past the first token's expiry the session goes on, and is asked again for the
	// second one.
	_, r2 := await(renews, "the second reauth request", true, func(_ signaling.Envelope, r *signaling.Reauth) bool { return true })
	if !r2.Deadline.After(first) {
		t.Fatalf("second reauth for %v, first deadline %v", r2.Deadline, first)
	}
	time.Sleep(time.Until(first.Add(200 * time.Millisecond)))
	renews.pingPong(1) // after the first token expired, before the second does

	// A renewal for another user is refused and the session stays alice's — until it
	// expires, with no renewal: closed, saying why.
	ignores, _ := g.connect(t, "alice")
	_, r3 := await(ignores, "the reauth request", true, func(_ signaling.Envelope, r *signaling.Reauth) bool { return true })
	bob, _, err := g.signer.Issue("bob", auth.KindSession, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ignores.send(signaling.Encode("r2", &signaling.Auth{Token: bob}))
	_, e := await(ignores, "the refusal of bob's token", false, func(_ signaling.Envelope, e *signaling.Error) bool { return true })
	if e.Code != signaling.CodeUnauthorized || e.Ref != "r2" {
		t.Fatalf("bob's token in alice's session: %+v", e)
	}
	_, e = await(ignores, "the expiry error", false, func(_ signaling.Envelope, e *signaling.Error) bool { return true })
	if e.Code != signaling.CodeUnauthorized || !strings.Contains(e.Message, "expired") || !strings.Contains(e.Message, "reauth") {
		t.Errorf("at expiry: %+v, want unauthorized saying the token expired without a renewal", e)
	}
	if ce := ignores.expectClosed(); ce.Code != websocket.StatusPolicyViolation {
		t.Errorf("closed with %v, want 1008", ce)
	}
	if late := time.Since(r3.Deadline); late < 0 {
		t.Errorf("closed %v before the deadline it announced", -late)
	}
}
