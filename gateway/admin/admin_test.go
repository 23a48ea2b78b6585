package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/gateway/dr/drtest"
	"github.com/parkway/parkway/signaling"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := leakedGoroutines(); leaked != "" {
			os.Stderr.WriteString("leaked goroutines:\n" + leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines returns the stacks of goroutines of the controller, sipgo or the test
// servers still running after the tests, waiting a moment for exiting ones.
func leakedGoroutines() string {
	var leaked string
	for range 100 {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		leaked = ""
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "leakedGoroutines") {
				continue
			}
			if strings.Contains(g, "gateway/dr") || strings.Contains(g, "emiago/sipgo") || strings.Contains(g, "net/http.(*conn).serve") {
				leaked += g + "\n\n"
			}
		}
		if leaked == "" {
			return ""
		}
		time.Sleep(50 * time.Millisecond)
	}
	return leaked
}

type env struct {
	t            *testing.T
	c            *dr.Controller
	home, backup *drtest.Pool
	srv          *httptest.Server
	client       *Client
	changes      chan dr.Snapshot
}

// newEnv runs a controller over two loopback pools and serves the admin API for it on
// a loopback port. run=false leaves the controller stopped; demo=false serves it as a
// non-demo gateway.
func newEnv(t *testing.T, run, demo bool, opts ...Option) *env {
	t.Helper()
	e := &env{t: t, home: drtest.NewPool(t), backup: drtest.NewPool(t), changes: make(chan dr.Snapshot, 1024)}
	c, err := dr.New(dr.Config{
		Home:   dr.Pool{Name: "pool-a", SIPAddr: e.home.Addr(), Orbits: "7000-7099"},
		Backup: dr.Pool{Name: "pool-b", SIPAddr: e.backup.Addr(), Orbits: "8000-8099"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	cancelSub := c.Subscribe(func(s dr.Snapshot) { e.changes <- s })
	t.Cleanup(cancelSub)
	if run {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	var pools DemoPools
	if demo {
		pools = drtest.Pools{"pool-a": e.home, "pool-b": e.backup}
	}
	e.srv = httptest.NewServer(Handler(c, pools, opts...))
	t.Cleanup(e.srv.Close)
	e.client = &Client{Gateway: e.srv.URL}
	return e
}

// waitFor waits for a published snapshot that satisfies ok (bounded so a broken
// controller fails instead of hanging; not a timing check).
func (e *env) waitFor(what string, ok func(dr.Snapshot) bool) dr.Snapshot {
	e.t.Helper()
	limit := time.After(30 * time.Second)
	for {
		select {
		case s := <-e.changes:
			if ok(s) {
				return s
			}
		case <-limit:
			e.t.Fatalf("waiting for %s; now %+v", what, e.c.Snapshot())
		}
	}
}

func poolsHealthy(s dr.Snapshot) bool {
	return len(s.Pools) == 2 && s.Pools[0].Healthy && s.Pools[1].Healthy
}

// call does one request and returns the status, headers and body decoded as a map.
func (e *env) call(method, path string, header ...string) (int, http.Header, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var m map[string]any
	if method != http.MethodHead {
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			e.t.Errorf("%s %s: Content-Type %q; want application/json", method, path, ct)
		}
		if err := json.Unmarshal(body, &m); err != nil {
			e.t.Errorf("%s %s: body is not JSON: %q", method, path, body)
		}
	}
	return res.StatusCode, res.Header, m
}

// wantError checks a JSON error answer.
func (e *env) wantError(method, path string, status int, code string) map[string]any {
	e.t.Helper()
	got, hdr, m := e.call(method, path)
	if got != status {
		e.t.Errorf("%s %s: status %d; want %d (%v)", method, path, got, status, m)
	}
	errObj, _ := m["error"].(map[string]any)
	if errObj == nil || errObj["code"] != code || errObj["message"] == "" || errObj["message"] == nil {
		e.t.Errorf("%s %s: body %v; want {\"error\":{\"code\":%q,\"message\":...}}", method, path, m, code)
	}
	if status == http.StatusMethodNotAllowed && hdr.Get("Allow") == "" {
		e.t.Errorf("%s %s: 405 without Allow", method, path)
	}
	return errObj
}

func TestGetStatusShape(t *testing.T) {
	e := newEnv(t, true, true)
	e.waitFor("both pools healthy", poolsHealthy)
	status, hdr, m := e.call(http.MethodGet, "/api/dr")
	if status != http.StatusOK || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /api/dr: %d %v", status, hdr)
	}
	for k, want := range map[string]any{
		"phase": "normal", "homePool": "pool-a", "backupPool": "pool-b", "activePool": "pool-a", "resiliency": false,
	} {
		if m[k] != want {
			t.Errorf("%s = %v; want %v", k, m[k], want)
		}
	}
	pools, _ := m["pools"].([]any)
	if len(pools) != 2 {
		t.Fatalf("pools = %v", m["pools"])
	}
	a := pools[0].(map[string]any)
	for k, want := range map[string]any{
		"name": "pool-a", "role": "home", "healthy": true, "sipAddress": e.home.Addr(), "orbits": "7000-7099",
	} {
		if a[k] != want {
			t.Errorf("pools[0].%s = %v; want %v", k, a[k], want)
		}
	}
	if b := pools[1].(map[string]any); b["name"] != "pool-b" || b["role"] != "backup" || b["orbits"] != "8000-8099" {
		t.Errorf("pools[1] = %v", b)
	}
	if status, _, _ := e.call(http.MethodHead, "/api/dr"); status != http.StatusOK {
		t.Errorf("HEAD /api/dr: %d", status)
	}
}

// TestContractWalk is ../shared/checks/dr-contract.sh in Go, through the HTTP API only:
// 409 on failback from normal, a stopped pool-a seen as an outage, failover, pool-a back,
// failback, normal.
func TestContractWalk(t *testing.T) {
	e := newEnv(t, true, true)
	e.waitFor("both pools healthy", poolsHealthy)

	errObj := e.wantError(http.MethodPost, "/api/dr/failback", http.StatusConflict, CodeConflict)
	if errObj["phase"] != "normal" || !strings.Contains(errObj["message"].(string), "home pool") {
		t.Errorf("409 body %v; want the phase and the reason", errObj)
	}

	if status, _, m := e.call(http.MethodPost, "/api/demo/pools/pool-a/stop"); status != http.StatusOK || m["state"] != "stopped" {
		t.Fatalf("stop pool-a: %d %v", status, m)
	}
	if e.home.Running() {
		t.Fatal("pool-a still running after stop")
	}
	e.waitFor("outage", func(s dr.Snapshot) bool { return s.Phase == signaling.PhaseOutage })
	e.waitFor("failover", func(s dr.Snapshot) bool { return s.Phase == signaling.PhaseFailover })
	e.wantError(http.MethodPost, "/api/dr/failback", http.StatusConflict, CodeConflict) // home is down

	status, _, m := e.call(http.MethodPost, "/api/dr/failover")
	if status != http.StatusOK || m["phase"] != "failed-over" || m["activePool"] != "pool-b" {
		t.Fatalf("failover: %d %v", status, m)
	}
	e.wantError(http.MethodPost, "/api/dr/failover", http.StatusConflict, CodeConflict) // already

	if status, _, m := e.call(http.MethodPost, "/api/demo/pools/pool-a/start"); status != http.StatusOK || m["state"] != "started" {
		t.Fatalf("start pool-a: %d %v", status, m)
	}
	e.waitFor("pool-a healthy", poolsHealthy)
	status, _, m = e.call(http.MethodPost, "/api/dr/failback")
	if status != http.StatusOK || m["phase"] != "normal" {
		t.Fatalf("failback: %d %v", status, m)
	}
	_, _, m = e.call(http.MethodGet, "/api/dr")
	if m["phase"] != "normal" || m["activePool"] != "pool-a" {
		t.Errorf("after failback: %v", m)
	}
}

// TestPlannedFailoverAPI: failover from normal with both pools up.
func TestPlannedFailoverAPI(t *testing.T) {
	e := newEnv(t, true, true)
	e.waitFor("both pools healthy", poolsHealthy)
	status, _, m := e.call(http.MethodPost, "/api/dr/failover")
	if status != http.StatusOK || m["phase"] != "failed-over" {
		t.Fatalf("planned failover: %d %v", status, m)
	}
	if pools := m["pools"].([]any); pools[0].(map[string]any)["healthy"] != true {
		t.Errorf("home should still be healthy in a planned failover: %v", pools[0])
	}
	if status, _, m := e.call(http.MethodPost, "/api/dr/failback"); status != http.StatusOK || m["phase"] != "normal" {
		t.Fatalf("failback: %d %v", status, m)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t, false, true)
	for _, c := range []struct{ method, path, allow string }{
		{http.MethodPost, "/api/dr", "GET, HEAD"},
		{http.MethodDelete, "/api/dr", "GET, HEAD"},
		{http.MethodGet, "/api/dr/failover", "POST"},
		{http.MethodPut, "/api/dr/failback", "POST"},
		{http.MethodGet, "/api/demo/pools/pool-a/stop", "POST"},
		{http.MethodGet, "/api/demo/pools/pool-a/start", "POST"},
	} {
		e.wantError(c.method, c.path, http.StatusMethodNotAllowed, CodeMethodNotAllowed)
		if _, hdr, _ := e.call(c.method, c.path); hdr.Get("Allow") != c.allow {
			t.Errorf("%s %s: Allow %q; want %q", c.method, c.path, hdr.Get("Allow"), c.allow)
		}
	}
}

func TestNotFound(t *testing.T) {
	e := newEnv(t, false, true)
	e.wantError(http.MethodGet, "/api/dr/bogus", http.StatusNotFound, CodeNotFound)
	e.wantError(http.MethodPost, "/api/demo/pools/pool-z/stop", http.StatusNotFound, CodeNotFound)
	e.wantError(http.MethodPost, "/api/demo/pools/pool-z/start", http.StatusNotFound, CodeNotFound)
	e.wantError(http.MethodPost, "/api/demo/reset", http.StatusNotFound, CodeNotFound)
	if !e.home.Running() || !e.backup.Running() {
		t.Error("a 404 stopped a pool")
	}
}

// TestDemoRefusedOutsideDemo: without DemoPools the whole /api/demo/ tree is 404 and no
// pool is touched.
func TestDemoRefusedOutsideDemo(t *testing.T) {
	e := newEnv(t, false, false)
	for _, p := range []string{"/api/demo/pools/pool-a/stop", "/api/demo/pools/pool-a/start", "/api/demo/"} {
		e.wantError(http.MethodPost, p, http.StatusNotFound, CodeNotFound)
		e.wantError(http.MethodGet, p, http.StatusNotFound, CodeNotFound)
	}
	if !e.home.Running() {
		t.Error("pool-a stopped by a non-demo gateway")
	}
}

// drtest.Pools stands in for the demo's pools in these tests.
var _ DemoPools = drtest.Pools(nil)

// failingPools is a DemoPools whose every call fails with err.
type failingPools struct{ err error }

func (f failingPools) StopPool(string) error                   { return f.err }
func (f failingPools) StartPool(context.Context, string) error { return f.err }

func TestDemoPoolErrors(t *testing.T) {
	e := newEnv(t, false, false)
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("pool-a: %w", ErrUnknownPool), http.StatusNotFound, CodeNotFound},
		{errors.New("listen udp 127.0.0.1:5060: address already in use"), http.StatusInternalServerError, CodeInternal},
	} {
		srv := httptest.NewServer(Handler(e.c, failingPools{c.err}))
		res, err := http.Post(srv.URL+"/api/demo/pools/pool-a/start", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		var body ErrorBody
		_ = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		srv.Close()
		if res.StatusCode != c.status || body.Error.Code != c.code {
			t.Errorf("DemoPools error %v: %d %+v; want %d %s", c.err, res.StatusCode, body, c.status, c.code)
		}
	}
}

func TestNotRunningIs503(t *testing.T) {
	e := newEnv(t, false, true)
	e.wantError(http.MethodPost, "/api/dr/failover", http.StatusServiceUnavailable, CodeUnavailable)
}

func TestToken(t *testing.T) {
	e := newEnv(t, false, true, WithToken("s3cret"))
	for _, hdr := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"Authorization", "s3cret"}} {
		status, h, m := e.call(http.MethodGet, "/api/dr", hdr...)
		if status != http.StatusUnauthorized || h.Get("WWW-Authenticate") == "" {
			t.Errorf("GET /api/dr with %v: %d %v; want 401 with WWW-Authenticate", hdr, status, m)
		}
	}
	if status, _, _ := e.call(http.MethodPost, "/api/demo/pools/pool-a/stop"); status != http.StatusUnauthorized || !e.home.Running() {
		t.Errorf("stop without the token: %d, running %v", status, e.home.Running())
	}
	if status, _, m := e.call(http.MethodGet, "/api/dr", "Authorization", "Bearer s3cret"); status != http.StatusOK || m["phase"] != "normal" {
		t.Errorf("with the token: %d %v", status, m)
	}
	// The client sends it.
	e.client.Token = "s3cret"
	if _, err := e.client.Status(context.Background()); err != nil {
		t.Errorf("Client with token: %v", err)
	}
}

// TestClient drives the API through Client and Command, as `parkway dr` does.
func TestClient(t *testing.T) {
	e := newEnv(t, true, true)
	ctx := context.Background()
	e.waitFor("both pools healthy", poolsHealthy)

	s, err := e.client.Status(ctx)
	if err != nil || s.Phase != signaling.PhaseNormal || len(s.Pools) != 2 {
		t.Fatalf("Status: %+v, %v", s, err)
	}
	_, err = e.client.Failback(ctx)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict || ae.Code != CodeConflict ||
		!strings.Contains(ae.Message, "already on the home pool") {
		t.Fatalf("Failback in normal: %v; want a 409 APIError with the server's message", err)
	}

	var out bytes.Buffer
	if err := e.client.Command(ctx, "status", &out, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"phase:", "normal", "pool-a", "home", "healthy", e.home.Addr(), "7000-7099", "pool-b", "8000-8099"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status output lacks %q:\n%s", want, out.String())
		}
	}

	if err := e.client.StopPool(ctx, "pool-a"); err != nil {
		t.Fatal(err)
	}
	e.waitFor("failover", func(s dr.Snapshot) bool { return s.Phase == signaling.PhaseFailover })
	out.Reset()
	if err := e.client.Command(ctx, "status", &out, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "DOWN") || !strings.Contains(out.String(), "resiliency mode") {
		t.Errorf("status in failover lacks DOWN or resiliency mode:\n%s", out.String())
	}

	out.Reset()
	if err := e.client.Command(ctx, "failover", &out, true); err != nil {
		t.Fatal(err)
	}
	var js dr.Snapshot
	if err := json.Unmarshal(out.Bytes(), &js); err != nil || js.Phase != signaling.PhaseFailedOver {
		t.Errorf("--json failover output %q: %v", out.String(), err)
	}
	err = e.client.Command(ctx, "failback", &out, false) // home still down
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Errorf("failback with home down: %v; want 409", err)
	}
	if err := e.client.StartPool(ctx, "pool-a"); err != nil {
		t.Fatal(err)
	}
	e.waitFor("pool-a healthy", poolsHealthy)
	out.Reset()
	if err := e.client.Command(ctx, "failback", &out, false); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "failback accepted: phase is now normal") {
		t.Errorf("failback output:\n%s", out.String())
	}

	if err := e.client.Command(ctx, "explode", io.Discard, false); err == nil {
		t.Error("unknown action accepted")
	}
	if err := e.client.StopPool(ctx, "pool-z"); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("StopPool(pool-z): %v; want 404", err)
	}
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	// Not our API: a proxy's plain-text error still reaches the user.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream gateway is down", http.StatusBadGateway)
	}))
	defer srv.Close()
	_, err := (&Client{Gateway: srv.URL}).Status(ctx)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadGateway || !strings.Contains(ae.Message, "upstream gateway is down") {
		t.Errorf("plain-text 502: %v", err)
	}
	for _, bad := range []string{"127.0.0.1:8080", "ftp://x", "http://"} {
		if _, err := (&Client{Gateway: bad}).Status(ctx); err == nil || !strings.Contains(err.Error(), "gateway URL") {
			t.Errorf("gateway %q: %v; want a gateway URL error", bad, err)
		}
	}
	// Nothing listening: a connection error, not a hang.
	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	if _, err := (&Client{Gateway: url}).Status(ctx); err == nil {
		t.Error("no error from a closed port")
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Every admin action is logged with who asked (the token, or the anonymous name when
// the API has none) and from where (remote address, Origin); so is a wrong token.
func TestAuditLog(t *testing.T) {
	for _, tc := range []struct {
		name, token, who string
	}{{"token", "s3cret-admin-token", "admin-token"}, {"open demo", "", "demo"}} {
		t.Run(tc.name, func(t *testing.T) {
			var out syncBuffer
			log := slog.New(slog.NewTextHandler(&out, nil))
			e := newEnv(t, true, true, WithToken(tc.token), WithAuditLog(log, "demo"))
			e.waitFor("both pools healthy", poolsHealthy)
			auth := []string{"Origin", "http://admin.example", "Authorization", "Bearer " + tc.token}
			for _, path := range []string{"/api/dr/failover", "/api/dr/failback", "/api/demo/pools/pool-b/stop", "/api/demo/pools/pool-b/start"} {
				if status, _, m := e.call(http.MethodPost, path, auth...); status != http.StatusOK {
					t.Fatalf("POST %s: %d %v", path, status, m)
				}
			}
			e.call(http.MethodPost, "/api/dr/failback", auth...) // 409 in normal: logged too
			for _, want := range []string{
				"action=failover status=200 outcome=done",
				"action=failback status=200 outcome=done",
				`action="stop pool pool-b" status=200`,
				`action="start pool pool-b" status=200`,
				"action=failback status=409",
			} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("log has no %q:\n%s", want, out.String())
				}
			}
			for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				if !strings.Contains(line, "who="+tc.who) || !strings.Contains(line, "remote=127.0.0.1:") || !strings.Contains(line, "origin=http://admin.example") {
					t.Errorf("log line without who=%s, remote and origin: %s", tc.who, line)
				}
			}
			if tc.token == "" {
				return
			}
			e.call(http.MethodPost, "/api/dr/failover", "Origin", "http://evil.example", "Authorization", "Bearer guess")
			if !strings.Contains(out.String(), `msg="admin request refused: no valid admin token" method=POST path=/api/dr/failover remote=127.0.0.1:`) ||
				!strings.Contains(out.String(), "origin=http://evil.example") {
				t.Errorf("a wrong token is not logged with where it came from:\n%s", out.String())
			}
		})
	}
}
