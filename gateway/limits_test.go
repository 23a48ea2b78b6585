package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parkway/parkway/gateway/auth"
	"github.com/parkway/parkway/signaling"
)

// A session may send a burst of frames; beyond it each frame is answered "rate-limited"
// and not handled, and a client that keeps flooding is closed with 1008 (issue 13).
func TestMessageFloodIsLimitedThenClosed(t *testing.T) {
	// One frame a second, bursts of 5: the test sends far faster than one a second
	// however slow the machine, so every frame after the fifth is over the limit.
	g := startGateway(t, func(c *Config) { c.MessageRate, c.MessageBurst = 1, 5 })
	c, _ := g.connect(t, "alice")
	frames := 0
	for seq := uint64(1); seq <= 5; seq++ {
		c.pingPong(seq) // the burst: answered
		frames++
	}
	c.send(signaling.Encode("over", &signaling.Ping{Seq: 6}))
	if e := expectError(c, signaling.CodeRateLimited); !strings.Contains(e.Message, "not handled") {
		t.Errorf("first refusal %+v", e)
	}
	// Keep flooding without reading: refused frames pile up past the burst, and the
	// gateway closes the session. The writes after the close may fail; that is the point.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 20; i++ {
		f, _ := signaling.Encode("", &signaling.Ping{Seq: uint64(100 + i)})
		if c.conn.Write(ctx, websocket.MessageText, f) != nil {
			break
		}
	}
	var last *signaling.Error
	for {
		r, err := c.readConn(time.Now().Add(10 * time.Second))
		if err != nil {
			if st := websocket.CloseStatus(err); st != websocket.StatusPolicyViolation {
				t.Errorf("flooding ended with %v, want a close with 1008", err)
			}
			break
		}
		m := r.m
		if e, ok := m.(*signaling.Error); ok {
			if e.Code != signaling.CodeRateLimited {
				t.Fatalf("error %+v while flooding, want rate-limited", e)
			}
			last = e
			continue
		}
		if _, ok := m.(*signaling.Pong); ok {
			t.Fatal("a frame over the limit was handled (pong)")
		}
	}
	if last == nil || !strings.Contains(last.Message, "closed") {
		t.Errorf("last error before the close %+v, want one saying the connection is closed", last)
	}
	// Other sessions of the same user are not affected.
	c2, _ := g.connect(t, "alice")
	c2.pingPong(1)
}

// A websocket does not outlive its token: at expiry the session is told (an
// "unauthorized" error saying so) and closed with 1008, unless it re-authenticated
// with a fresh token before, which extends it (issue 13).
func TestSessionClosedWhenTokenExpires(t *testing.T) {
	g := startGateway(t, func(c *Config) {
		c.SessionTTL = 2 * time.Second // tokens carry whole seconds: expiry in 1–2 s
		c.PingInterval = 100 * time.Millisecond
	})
	stays, _ := g.connect(t, "alice")
	fresh, _, err := g.signer.Issue("alice", auth.KindSession, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	stays.send(signaling.Encode("r1", &signaling.Auth{Token: fresh}))
	expect[*signaling.Welcome](stays)

	expires, _ := g.connect(t, "alice")
	start := time.Now()
	_, e := await(expires, "the expiry error", false, func(_ signaling.Envelope, e *signaling.Error) bool { return true })
	if e.Code != signaling.CodeUnauthorized || !strings.Contains(e.Message, "expired") {
		t.Errorf("at expiry: %+v, want unauthorized saying the token expired", e)
	}
	if ce := expires.expectClosed(); ce.Code != websocket.StatusPolicyViolation {
		t.Errorf("closed with %v, want 1008", ce)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("closed %v after connecting with a 2 s token", d)
	}
	stays.pingPong(1)
}

// Serve's HTTP limits over a real socket: a request whose body trickles in slower than
// ReadTimeout loses its connection, oversized headers get 431, and a websocket, once
// upgraded, outlives every one of those timeouts.
func TestServeHTTPLimits(t *testing.T) {
	ctl := newFakeController()
	srv, err := New(Config{Controller: ctl, Demo: true, Assets: testAssets(t), Logger: quietLogger(),
		ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond,
		MaxHeaderBytes: 4 << 10, PeerTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	addr := ln.Addr().String()
	g := &testGateway{Server: srv, ctl: ctl, url: "http://" + addr, ws: "ws://" + addr + "/ws"}

	// A slow body: headers at once, then one byte of a 100-byte body, then nothing.
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /api/session HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", addr)
	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	rest, err := io.ReadAll(slow) // whatever the server answers, then its close
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("a slow-body connection still open after 10 s (read %q)", rest)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("slow-body connection closed after %v, want about the 300 ms ReadTimeout", d)
	}

	req, _ := http.NewRequest(http.MethodGet, g.url+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("x", 8<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("8 KiB header: %d, want 431", resp.StatusCode)
	}

	c, _ := g.connect(t, "alice")
	time.Sleep(time.Second) // three times every HTTP timeout
	c.pingPong(1)
}
