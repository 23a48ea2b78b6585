package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parkway/parkway/gateway/assets"
	"github.com/parkway/parkway/gateway/auth"
	"github.com/parkway/parkway/signaling"
)

func TestStaticThroughGateway(t *testing.T) {
	g := startGateway(t, nil)
	for path, want := range map[string]string{
		"/":             "text/html; charset=utf-8",
		"/?user=alice":  "text/html; charset=utf-8",
		"/style.css":    "text/css; charset=utf-8",
		"/wasm_exec.js": "text/javascript; charset=utf-8",
		"/main.wasm":    "application/wasm",
	} {
		req, _ := http.NewRequest(http.MethodGet, g.url+path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("Content-Type") != want {
			t.Errorf("%s: %d %q", path, resp.StatusCode, h.Get("Content-Type"))
		}
		csp := "default-src 'none'; frame-ancestors 'self'"
		if strings.HasPrefix(path, "/?") || path == "/" {
			csp = assets.PagePolicy + "; frame-ancestors 'self'"
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Security-Policy") != csp {
			t.Errorf("%s: security headers %q %q", path, h.Get("X-Content-Type-Options"), h.Get("Content-Security-Policy"))
		}
		if h.Get("ETag") == "" || h.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: cache headers %q %q", path, h.Get("ETag"), h.Get("Cache-Control"))
		}
		if path == "/main.wasm" && (h.Get("Content-Encoding") != "gzip" || h.Get("Vary") != "Accept-Encoding") {
			t.Errorf("main.wasm: encoding %q vary %q", h.Get("Content-Encoding"), h.Get("Vary"))
		}
		// Revalidation: the same tag gets 304.
		req.Header.Set("If-None-Match", h.Get("ETag"))
		resp, err = http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s revalidated: %d", path, resp.StatusCode)
		}
	}
	resp, err := http.Get(g.url + "/api/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("unknown API: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestWASMMissingIs503(t *testing.T) {
	g := startGateway(t, func(c *Config) {
		fs := testAssets(t)
		delete(fs, "main.wasm.gz")
		c.Assets = fs
	})
	for _, path := range []string{"/", "/main.wasm"} {
		resp, err := http.Get(g.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || !strings.Contains(string(body), "go tool task wasm") {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
}

func postJSON(t *testing.T, url, body string, hdr ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("POST %s: Content-Type %q", url, ct)
	}
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	if e, ok := m["error"].(map[string]any); ok {
		return resp.StatusCode, e // errors: {"error":{"code","message"}}
	}
	return resp.StatusCode, m
}

func TestSignIn(t *testing.T) {
	g := startGateway(t, nil)
	code, m := postJSON(t, g.url+"/api/session", `{"user":"alice"}`)
	if code != 200 || m["user"] != "alice" || m["token"] == "" || m["expiresAt"] == nil {
		t.Fatalf("alice: %d %v", code, m)
	}
	claims, err := g.signer.Verify(m["token"].(string), auth.KindSession)
	if err != nil || claims.User != "alice" {
		t.Errorf("issued token: %v %+v", err, claims)
	}
	exp, err := time.Parse(time.RFC3339, m["expiresAt"].(string))
	if err != nil || exp.Before(time.Now().Add(DefaultSessionTTL-time.Minute)) {
		t.Errorf("expiresAt %v %v", m["expiresAt"], err)
	}
	for body, want := range map[string]int{
		`{"user":"mallory"}`:         404,
		`{"user":""}`:                404,
		`{"user":"alice","admin":1}`: 400,
		`not json`:                   400,
		`{"user":"alice"} {}`:        400,
		`{"user":"` + strings.Repeat("a", 2000) + `"}`: 400,
	} {
		if code, m := postJSON(t, g.url+"/api/session", body); code != want || m["code"] == nil || m["message"] == nil {
			t.Errorf("%.40s: %d %v, want %d with a JSON error", body, code, m, want)
		}
	}
	resp, err := http.Get(g.url + "/api/session")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET /api/session: %d", resp.StatusCode)
	}
	if code, _ := postJSON(t, g.url+"/api/session", `{"user":"alice"}`, "Origin", "http://evil.example"); code != 403 {
		t.Errorf("cross-site sign-in: %d, want 403", code)
	}
}

func TestSignInOnlyInDemoMode(t *testing.T) {
	g := startGateway(t, func(c *Config) { c.Demo = false })
	code, m := postJSON(t, g.url+"/api/session", `{"user":"alice"}`)
	if code != 403 || m["code"] != "forbidden" {
		t.Errorf("sign-in outside demo mode: %d %v", code, m)
	}
}

func TestOriginChecked(t *testing.T) {
	g := startGateway(t, func(c *Config) { c.AllowedOrigins = []string{"http://127.0.0.2:9000"} })
	for origin, ok := range map[string]bool{
		"":                       true, // not a browser
		g.url:                    true, // the softphone itself
		"http://127.0.0.2:9000":  true, // configured
		"http://127.0.0.2:9001":  false,
		"https://127.0.0.2:9000": false,
		"http://evil.example":    false,
		"null":                   false,
	} {
		c, resp, err := g.dial(t, origin)
		if ok {
			if err != nil {
				t.Errorf("origin %q refused: %v", origin, err)
				continue
			}
			c.conn.CloseNow()
			continue
		}
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: err %v resp %v, want 403", origin, err, resp)
		}
	}
	// The API's state-changing routes are guarded the same way.
	if code, m := postJSON(t, g.url+"/api/dr/failover", ``, "Origin", "http://evil.example"); code != 403 || m["code"] != "forbidden-origin" {
		t.Errorf("cross-site POST: %d %v", code, m)
	}
}

func TestAuthRequired(t *testing.T) {
	g := startGateway(t, nil)

	// Something other than auth first.
	c, _, err := g.dial(t, "")
	if err != nil {
		t.Fatal(err)
	}
	c.send(signaling.Encode("x", &signaling.Ping{Seq: 1}))
	if e := expectError(c, signaling.CodeUnauthorized); e.Ref != "x" {
		t.Errorf("ref %q", e.Ref)
	}
	if ce := c.expectClosed(); ce.Code != websocket.StatusPolicyViolation {
		t.Errorf("close %v", ce)
	}

	// Nothing at all: the auth timeout.
	quick := startGateway(t, func(c *Config) { c.AuthTimeout = 200 * time.Millisecond })
	c, _, err = quick.dial(t, "")
	if err != nil {
		t.Fatal(err)
	}
	expectError(c, signaling.CodeUnauthorized)
	if ce := c.expectClosed(); ce.Code != websocket.StatusPolicyViolation || ce.Reason != "unauthorized" {
		t.Errorf("close %v", ce)
	}

	// Tokens that are not valid.
	good := g.signIn(t, "alice")
	g.signer.Now = func() time.Time { return time.Now().Add(-DefaultSessionTTL - time.Hour) }
	expired, _, _ := g.signer.Issue("bob", auth.KindSession, DefaultSessionTTL)
	g.signer.Now = time.Now
	ticket, _, _ := g.signer.Issue("bob", auth.KindTicket, time.Minute)
	other, _ := auth.NewSigner(nil)
	foreign, _, _ := other.Issue("alice", auth.KindSession, time.Hour)
	for name, tok := range map[string]string{
		"expired":  expired,
		"tampered": good[:len(good)-2] + "AA",
		"foreign":  foreign,
		"ticket":   ticket,
	} {
		c, _, err := g.dial(t, "")
		if err != nil {
			t.Fatal(err)
		}
		c.send(signaling.Encode("a", &signaling.Auth{Token: tok}))
		expectError(c, signaling.CodeUnauthorized)
		if ce := c.expectClosed(); ce.Code != websocket.StatusPolicyViolation {
			t.Errorf("%s: close %v", name, ce)
		}
	}
	if n := g.Sessions(); n != 0 {
		t.Errorf("%d sessions after refusals", n)
	}
}

func TestBadFramesKeepTheSession(t *testing.T) {
	g := startGateway(t, nil)
	c, _ := g.connect(t, "alice")
	big := `{"v":1,"type":"ping","id":"big","data":{"seq":1},"pad":"` + strings.Repeat("x", signaling.MaxMessageSize) + `"}`
	cases := []struct {
		name  string
		frame string
		code  signaling.ErrorCode
		ref   string
	}{
		{"malformed", `{"v":1,"type":`, signaling.CodeMalformed, ""},
		{"not an object", `[1,2]`, signaling.CodeMalformed, ""},
		{"unknown type", `{"v":1,"type":"teleport","id":"u1"}`, signaling.CodeUnknownType, "u1"},
		{"gateway-only type", `{"v":1,"type":"state","id":"u2","data":{}}`, signaling.CodeUnknownType, "u2"},
		{"bad field", `{"v":1,"type":"action","id":"b1","data":{"action":"park","orbit":"0123"}}`, signaling.CodeBadField, "b1"},
		{"unknown field", `{"v":1,"type":"ping","id":"b2","data":{"seq":1,"extra":true}}`, signaling.CodeBadField, "b2"},
		{"wrong type", `{"v":1,"type":"ping","id":"b3","data":{"seq":"one"}}`, signaling.CodeBadField, "b3"},
		{"version", `{"v":2,"type":"ping","id":"v2"}`, signaling.CodeVersion, "v2"},
		{"oversized", big, signaling.CodeTooLarge, ""},
	}
	for i, tc := range cases {
		c.sendRaw([]byte(tc.frame))
		e := expectError(c, tc.code)
		if e.Ref != tc.ref {
			t.Errorf("%s: ref %q, want %q", tc.name, e.Ref, tc.ref)
		}
		c.pingPong(uint64(i + 1)) // the session lives on
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageBinary, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	expectError(c, signaling.CodeMalformed)
	c.pingPong(100)
}

func TestOversizedBeyondDrainLimitCloses(t *testing.T) {
	g := startGateway(t, func(c *Config) { c.DrainLimit = 128 << 10 })
	c, _ := g.connect(t, "alice")
	c.sendRaw([]byte(strings.Repeat(" ", 100<<10))) // within the drain limit: answered, kept
	expectError(c, signaling.CodeTooLarge)
	c.pingPong(1)
	c.sendRaw([]byte(strings.Repeat(" ", 200<<10)))
	expectError(c, signaling.CodeTooLarge) // the JSON error comes before the close
	if ce := c.expectClosed(); ce.Code != websocket.StatusMessageTooBig {
		t.Errorf("close %v, want 1009", ce)
	}
}

func TestActionsAnsweredByTheRule(t *testing.T) {
	g := startGateway(t, nil)
	c, _ := g.connect(t, "alice")
	id := 0
	for _, p := range signaling.Phases {
		if p != g.ctl.Snapshot().Phase {
			g.ctl.set(p)
			if st := expect[*signaling.State](c); st.Phase != p {
				t.Fatalf("state %s, want %s", st.Phase, p)
			}
		}
		for _, a := range signaling.Actions {
			req := &signaling.Request{Action: a, Target: "bob", Orbit: "7001"}
			if a == signaling.ActionMute {
				req.Muted = new(true)
			}
			id++
			ref := "r" + string(rune('a'+id%26)) + strings.Repeat("x", id%3)
			c.send(signaling.Encode(ref, req))
			e := expect[*signaling.Error](c)
			if e.Ref != ref {
				t.Errorf("%s/%s: ref %q, want %q", p, a, e.Ref, ref)
			}
			pv := signaling.PhaseAllows(p, a)
			cv := signaling.CallAllows(signaling.CallNone, a)
			switch {
			case !pv.Allowed:
				if e.Code != signaling.CodeRefused || e.Message != pv.Reason {
					t.Errorf("%s/%s: %+v, want refused %q", p, a, e, pv.Reason)
				}
			case !cv.Allowed:
				if e.Code != signaling.CodeRefused || e.Message != cv.Reason {
					t.Errorf("%s/%s: %+v, want refused %q", p, a, e, cv.Reason)
				}
			default:
				if e.Code != signaling.CodeUnavailable || !strings.Contains(e.Message, "no SIP user agent") {
					t.Errorf("%s/%s: %+v, want unavailable", p, a, e)
				}
			}
			// Naming a call that does not exist: no-call, unless the phase refuses first.
			if a != signaling.ActionCall && a != signaling.ActionRetrieve { // the others act on a call
				req.Call = "c1"
				c.send(signaling.Encode("n", req))
				e := expect[*signaling.Error](c)
				want := signaling.CodeNoCall
				if !pv.Allowed {
					want = signaling.CodeRefused
				}
				if e.Code != want {
					t.Errorf("%s/%s on call c1: %+v, want %s", p, a, e, want)
				}
			}
		}
	}
	// The seed's sentence, word for word.
	g.ctl.set(signaling.PhaseFailover)
	expect[*signaling.State](c)
	c.send(signaling.Encode("park", &signaling.Request{Action: signaling.ActionPark, Call: "c1"}))
	if e := expectError(c, signaling.CodeRefused); e.Message != "Park is unavailable in resiliency mode" {
		t.Errorf("park in failover: %q", e.Message)
	}
}

func TestStatePushedOnConnectAndChange(t *testing.T) {
	g := startGateway(t, nil)
	a, st := g.connect(t, "alice")
	if st.Phase != signaling.PhaseNormal || st.HomePool != "pool-a" || st.ActivePool != "pool-a" || st.Resiliency {
		t.Errorf("first state %+v", st)
	}
	if !st.Capabilities[signaling.ActionCall].Allowed || st.Capabilities[signaling.ActionHold].Allowed {
		t.Errorf("capabilities %+v", st.Capabilities)
	}
	b, _ := g.connect(t, "bob")
	g.ctl.set(signaling.PhaseOutage)
	g.ctl.set(signaling.PhaseFailover)
	for _, c := range []*client{a, b} {
		// Intermediate states may be coalesced; the last one always arrives.
		for {
			st := expect[*signaling.State](c)
			if st.Phase == signaling.PhaseFailover {
				if !st.Resiliency || st.ActivePool != "pool-b" || st.Capabilities[signaling.ActionPark].Reason != signaling.ReasonParkResiliency {
					t.Errorf("failover state %+v", st)
				}
				break
			}
		}
	}
	// A late joiner gets the current phase, not the first.
	_, st = g.connect(t, "carol")
	if st.Phase != signaling.PhaseFailover {
		t.Errorf("late joiner got %s", st.Phase)
	}
	// A change that does not change the State pushes nothing.
	g.ctl.mu.Lock()
	g.ctl.snap.RedirectError = "a redirection's progress is not part of the State"
	g.ctl.mu.Unlock()
	if n := g.edge.Publish(g.ctl.Snapshot()); n != 0 {
		t.Errorf("an unchanged state was pushed to %d sessions", n)
	}
}

// TestHeartbeat checks both halves without asserting on time: a silent client is closed
// (however long that takes on a loaded machine), and a client's pong is counted as a sign
// of life (the session's lastSeen moves), which is what keeps a live client open.
func TestHeartbeat(t *testing.T) {
	g := startGateway(t, func(c *Config) {
		c.PingInterval = 50 * time.Millisecond
		c.PeerTimeout = 300 * time.Millisecond
	})
	silent, _ := g.connect(t, "bob")
	silent.expectClosed() // it never answered

	lg := startGateway(t, func(c *Config) { c.PingInterval = 50 * time.Millisecond })
	live, _ := lg.connect(t, "alice")
	lastSeen := func() time.Time {
		live := lg.edge.Live()
		if len(live) != 1 {
			t.Fatalf("%d sessions, want alice's alone", len(live))
		}
		return live[0].LastSeen
	}
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
		_, frame, err := live.conn.Read(ctx)
		cancel()
		if err != nil {
			t.Fatalf("waiting for ping %d: %v", i+1, err)
		}
		_, m, _ := signaling.Decode(signaling.FromGateway, frame)
		p, ok := m.(*signaling.Ping)
		if !ok {
			t.Fatalf("got %T between heartbeats, want ping", m)
		}
		if p.Seq != uint64(i+1) {
			t.Errorf("ping seq %d, want %d", p.Seq, i+1)
		}
		before := lastSeen()
		time.Sleep(time.Millisecond) // so that "later" is visible at the clock's resolution
		live.send(signaling.Encode("", &signaling.Pong{Seq: p.Seq}))
		for lastSeen().Equal(before) {
			time.Sleep(time.Millisecond)
		}
	}
	live.pingPong(1)
}

func TestSlowClientDoesNotBlockOthers(t *testing.T) {
	g := startGatewayOn(t, nil, func(l net.Listener) net.Listener { return smallBuffers{l} })
	// The slow client never reads: with small socket buffers its writer is soon stuck
	// in a write, and stays stuck (the peer timeout is the default 6 s).
	slow, _, err := g.dialSmall(t)
	if err != nil {
		t.Fatal(err)
	}
	slow.send(signaling.Encode("a", &signaling.Auth{Token: g.signIn(t, "alice")}))
	fast, _ := g.connect(t, "bob")
	ping := []byte(`{"v":1,"type":"ping","id":"` + strings.Repeat("x", 60) + `"}`)
	stuck := func() bool {
		for _, sess := range g.edge.Live() {
			if sess.Authenticated && sess.User == "alice" && sess.Writing {
				return true
			}
		}
		return false
	}
	defer slow.flood(ping)()
	for !stuck() {
		time.Sleep(5 * time.Millisecond)
	}
	phases := []signaling.Phase{signaling.PhaseOutage, signaling.PhaseFailover, signaling.PhaseFailedOver, signaling.PhaseFailback}
	for i := 0; i < 2000; i++ {
		g.ctl.set(phases[i%len(phases)])
	}
	g.ctl.set(signaling.PhaseNormal)
	for {
		if st := expect[*signaling.State](fast); st.Phase == signaling.PhaseNormal {
			break
		}
	}
	fast.pingPong(7)
	if !stuck() {
		t.Error("the slow client got unstuck: the test proved nothing")
	}
}

func TestClientThatDoesNotReadIsClosed(t *testing.T) {
	g := startGatewayOn(t, func(c *Config) {
		c.SendQueue = 4
		c.PeerTimeout = 500 * time.Millisecond
		c.PingInterval = 100 * time.Millisecond
	}, func(l net.Listener) net.Listener { return smallBuffers{l} })
	c, _, err := g.dialSmall(t)
	if err != nil {
		t.Fatal(err)
	}
	c.send(signaling.Encode("a", &signaling.Auth{Token: g.signIn(t, "alice")}))
	ping := []byte(`{"v":1,"type":"ping","id":"` + strings.Repeat("y", 60) + `"}`)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := c.conn.Write(ctx, websocket.MessageText, ping)
		cancel()
		if err != nil {
			break // the gateway gave up on us
		}
	}
	for g.Sessions() != 0 {
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReauthenticate(t *testing.T) {
	g := startGateway(t, nil)
	c, _ := g.connect(t, "alice")
	c.send(signaling.Encode("r1", &signaling.Auth{Token: g.signIn(t, "alice")}))
	if w := expect[*signaling.Welcome](c); w.User != "alice" {
		t.Errorf("welcome %+v", w)
	}
	c.send(signaling.Encode("r2", &signaling.Auth{Token: g.signIn(t, "bob")}))
	expectError(c, signaling.CodeUnauthorized)
	c.pingPong(1)
}

func TestServeShutsDownGracefully(t *testing.T) {
	ctl := newFakeController()
	srv, err := New(Config{Controller: ctl, Demo: true, Assets: testAssets(t), Logger: quietLogger()})
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
	g := &testGateway{Server: srv, ctl: ctl, url: "http://" + ln.Addr().String(), ws: "ws://" + ln.Addr().String() + "/ws"}
	c, _ := g.connect(t, "alice")
	cancel()
	if ce := c.expectClosed(); ce.Code != websocket.StatusGoingAway || ce.Reason != "gateway shutting down" {
		t.Errorf("close %v", ce)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if ctl.subscribers() != 0 {
		t.Error("still subscribed after Serve returned")
	}
	if _, err := http.Get(g.url + "/"); err == nil {
		t.Error("still serving after shutdown")
	}
}

func TestConfigValidation(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no controller":    {},
		"origin with path": {Controller: newFakeController(), AllowedOrigins: []string{"http://a.example/x"}},
		"origin scheme":    {Controller: newFakeController(), AllowedOrigins: []string{"ftp://a.example"}},
		"timeouts":         {Controller: newFakeController(), PingInterval: time.Second, PeerTimeout: time.Second},
		"short key":        {Controller: newFakeController(), SessionKey: []byte("short")},
	} {
		cfg.Assets = testAssets(t)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		} else if errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCloseEndsAStuckSession(t *testing.T) {
	g := startGatewayOn(t, func(c *Config) {
		c.PeerTimeout = 500 * time.Millisecond
		c.PingInterval = 100 * time.Millisecond
	}, func(l net.Listener) net.Listener { return smallBuffers{l} })
	c, _, err := g.dialSmall(t)
	if err != nil {
		t.Fatal(err)
	}
	c.send(signaling.Encode("a", &signaling.Auth{Token: g.signIn(t, "alice")}))
	ping := []byte(`{"v":1,"type":"ping","id":"` + strings.Repeat("z", 60) + `"}`)
	stuck := func() bool {
		for _, sess := range g.edge.Live() {
			if sess.Writing {
				return true
			}
		}
		return false
	}
	defer c.flood(ping)()
	for !stuck() {
		time.Sleep(5 * time.Millisecond)
	}
	t0 := time.Now()
	g.Close() // returns once the watchdog has freed the stuck writer
	t.Logf("Close took %v", time.Since(t0))
	if n := len(g.edge.Live()); n != 0 {
		t.Errorf("%d sessions live after Close", n)
	}
}

func TestHostGuard(t *testing.T) {
	get := func(url, host string) int {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	demo := startGateway(t, nil)
	for host, want := range map[string]int{
		"127.0.0.1:8080": 200, "[::1]:8080": 200, "localhost:8080": 200, "LOCALHOST.": 200,
		"evil.example:8080": 421, "rebind.evil.example": 421,
	} {
		if got := get(demo.url+"/", host); got != want {
			t.Errorf("demo, Host %s: %d, want %d", host, got, want)
		}
	}
	named := startGateway(t, func(c *Config) { c.Demo = false; c.Hosts = []string{"phone.example.com"} })
	if got := get(named.url+"/", "phone.example.com:443"); got != 200 {
		t.Errorf("configured host: %d", got)
	}
	if got := get(named.url+"/", "localhost"); got != 421 {
		t.Errorf("unlisted localhost: %d", got)
	}
	open := startGateway(t, func(c *Config) { c.Demo = false })
	if got := get(open.url+"/", "anything.example"); got != 200 {
		t.Errorf("no hosts outside demo mode: %d", got)
	}
}

func TestSessionLimit(t *testing.T) {
	g := startGateway(t, func(c *Config) { c.MaxSessions = 1 })
	first, _ := g.connect(t, "alice")
	_, resp, err := g.dial(t, "")
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second session: %v %v, want 503", err, resp)
	}
	first.conn.Close(websocket.StatusNormalClosure, "")
	for g.edge.Full() { // the first session's goroutines are winding down
		time.Sleep(5 * time.Millisecond)
	}
	g.connect(t, "bob")
}
