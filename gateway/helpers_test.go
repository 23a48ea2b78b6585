package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/coder/websocket"

	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/signaling"
)

// TestMain fails the package when a test leaves goroutines behind: every session
// goroutine has an owner who waits for it, and this is where that is checked.
func TestMain(m *testing.M) {
	if os.Getenv("PARKWAY_SWARM") != "" {
		os.Exit(runSwarm()) // BenchmarkFanout's client process
	}
	code := m.Run()
	closeFanoutFixture()
	if code == 0 {
		if leaked := leakedGoroutines(); leaked != "" {
			fmt.Fprintf(os.Stderr, "leaked goroutines:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines waits for goroutines that are still winding down (closed connections'
// readers, net/http's idle connections) and returns the stacks of any that remain.
func leakedGoroutines() string {
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	var stacks string
	for i := 0; i < 100; i++ {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var bad []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "leakedGoroutines") || sipgoLateSocket(g) {
				continue
			}
			for _, mark := range []string{"github.com/parkway/", "github.com/coder/websocket", "net/http.", "net.(*"} {
				if strings.Contains(g, mark) {
					bad = append(bad, g)
					break
				}
			}
		}
		if len(bad) == 0 {
			return ""
		}
		stacks = strings.Join(bad, "\n\n")
		time.Sleep(50 * time.Millisecond)
	}
	return stacks
}

// sipgoLateSocket is sipgo's reader of a UDP socket its transport opened on its own to
// send a message after its user agent was closed (a late retransmission or response;
// gateway/dr/drtest/pool.go says more). sipgo never closes such a socket, and none of
// our code holds it, so it is sipgo's leak, not one of ours: seen about once in ten runs
// of this package on a loaded machine. Any goroutine of ours still running is reported.
func sipgoLateSocket(stack string) bool {
	return strings.Contains(stack, "sipgo/sip.(*TransportUDP).readUDPConnection") &&
		strings.Contains(stack, "created by github.com/emiago/sipgo/sip.(*TransportUDP).createConnection") &&
		!strings.Contains(stack, "github.com/parkway/")
}

// fakeController is a DR controller whose phase the test sets.
type fakeController struct {
	mu   sync.Mutex
	snap dr.Snapshot
	subs map[int]func(dr.Snapshot)
	next int
}

func newFakeController() *fakeController {
	return &fakeController{
		snap: dr.Snapshot{Phase: signaling.PhaseNormal, HomePool: "pool-a", BackupPool: "pool-b", ActivePool: "pool-a", Seq: 1},
		subs: map[int]func(dr.Snapshot){},
	}
}

func (f *fakeController) Snapshot() dr.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap
}

func (f *fakeController) Subscribe(fn func(dr.Snapshot)) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.next
	f.next++
	f.subs[id] = fn
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.subs, id)
	}
}

// set moves to phase p and tells subscribers, as the real controller does.
func (f *fakeController) set(p signaling.Phase) {
	f.mu.Lock()
	f.snap.Phase = p
	f.snap.Resiliency = p.Resiliency()
	f.snap.ActivePool = "pool-a"
	if p == signaling.PhaseFailover || p == signaling.PhaseFailedOver {
		f.snap.ActivePool = "pool-b"
	}
	f.snap.Seq++
	snap := f.snap
	subs := make([]func(dr.Snapshot), 0, len(f.subs))
	for _, fn := range f.subs {
		subs = append(subs, fn)
	}
	f.mu.Unlock()
	for _, fn := range subs {
		fn(snap)
	}
}

func (f *fakeController) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

var wasmBytes = bytes.Repeat([]byte("\x00asm\x01\x00\x00\x00"), 1000)

func testAssets(t testing.TB) fstest.MapFS {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(wasmBytes)
	zw.Close()
	return fstest.MapFS{
		"index.html":   {Data: []byte("<!doctype html><title>Parkway</title>")},
		"widget.html":  {Data: []byte("<!doctype html><title>widget</title>")},
		"style.css":    {Data: []byte("body{}")},
		"wasm_exec.js": {Data: []byte("'use strict';")},
		"main.wasm.gz": {Data: buf.Bytes()},
	}
}

type testGateway struct {
	*Server
	ctl *fakeController
	ts  *httptest.Server
	url string // http://127.0.0.1:port
	ws  string // ws://127.0.0.1:port/ws
}

func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startGateway runs a gateway on a real loopback listener. mod adjusts the config.
func startGateway(t testing.TB, mod func(*Config)) *testGateway {
	t.Helper()
	return startGatewayOn(t, mod, nil)
}

// smallBuffers makes every accepted connection's kernel send buffer small, so a client
// that stops reading blocks the gateway's writes after kilobytes instead of megabytes.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

func startGatewayOn(t testing.TB, mod func(*Config), wrap func(net.Listener) net.Listener) *testGateway {
	t.Helper()
	ctl := newFakeController()
	// A generous peer timeout, so a test slowed down by a loaded machine is never
	// failed by a heartbeat; the heartbeat tests set their own.
	cfg := Config{Controller: ctl, Demo: true, Assets: testAssets(t), Logger: quietLogger(), PeerTimeout: time.Minute,
		// Every test tab comes from 127.0.0.1; the per-address limit has tests of its own.
		MaxSessionsPerIP: DemoMaxSessionsPerIP}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Config.ConnContext = srv.ConnContext
	if wrap != nil {
		ts.Listener = wrap(ts.Listener)
	}
	ts.Start()
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
		if n := ctl.subscribers(); n != 0 {
			t.Errorf("%d subscriptions left after Close", n)
		}
	})
	return &testGateway{Server: srv, ctl: ctl, ts: ts, url: ts.URL, ws: "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"}
}

// signIn gets a demo session token through the HTTP API.
func (g *testGateway) signIn(t testing.TB, user string) string {
	t.Helper()
	resp, err := http.Post(g.url+"/api/session", "application/json", strings.NewReader(`{"user":"`+user+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var si SignIn
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("sign in %s: %d %s", user, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&si); err != nil {
		t.Fatal(err)
	}
	return si.Token
}

// client is a test softphone: a real websocket client on loopback. Its reads are in
// inbox_test.go.
type client struct {
	t    testing.TB
	conn *websocket.Conn
	// inbox holds, in arrival order, the messages read while a wait looked for another
	// type (inbox_test.go).
	inbox []received
	seq   uint64 // messages read so far
}

func (g *testGateway) dial(t testing.TB, origin string) (*client, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	conn, resp, err := websocket.Dial(ctx, g.ws, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, resp, err
	}
	conn.SetReadLimit(1 << 20)
	c := &client{t: t, conn: conn}
	t.Cleanup(func() { conn.CloseNow() })
	return c, resp, nil
}

// connect dials, authenticates as user and reads the welcome and the first state.
func (g *testGateway) connect(t testing.TB, user string) (*client, *signaling.State) {
	t.Helper()
	c, _, err := g.dial(t, "")
	if err != nil {
		t.Fatal(err)
	}
	c.send(signaling.Encode("a1", &signaling.Auth{Token: g.signIn(t, user)}))
	w := expect[*signaling.Welcome](c)
	if w.User != user || w.Session == "" {
		t.Fatalf("welcome %+v", w)
	}
	return c, expect[*signaling.State](c)
}

func (c *client) send(frame []byte, err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(frame)
}

func (c *client) sendRaw(frame []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, frame); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// dialSmall dials with a small kernel receive buffer: a client that does not read then
// fills up quickly.
func (g *testGateway) dialSmall(t testing.TB) (*client, *http.Response, error) {
	t.Helper()
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return serr
	}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, g.ws, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { conn.CloseNow() })
	return &client{t: t, conn: conn}, resp, nil
}

// flood sends frame over and over, never reading, until the connection fails. The
// returned func closes the connection and waits for the sender.
func (c *client) flood(frame []byte) (stop func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c.conn.Write(context.Background(), websocket.MessageText, frame) == nil {
		}
	}()
	return func() {
		c.conn.CloseNow()
		<-done
	}
}
