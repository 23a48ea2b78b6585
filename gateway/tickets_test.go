package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/gateway/assets"
	"github.com/parkway/parkway/gateway/auth"
	"github.com/parkway/parkway/signaling"
)

const (
	testEmbedKey = "host-backend-embed-key-0123456789"
	testEmbedder = "http://127.0.0.2:18788"
)

var testSessionKey = []byte(strings.Repeat("s", 32))

func startEmbedGateway(t *testing.T, mod func(*Config)) *testGateway {
	t.Helper()
	return startGateway(t, func(c *Config) {
		c.EmbedKey = []byte(testEmbedKey)
		c.EmbedOrigins = []string{testEmbedder}
		c.SessionKey = testSessionKey
		if mod != nil {
			mod(c)
		}
	})
}

// ticket asks for a widget ticket as a host backend does: no Origin, the embed key.
func (g *testGateway) ticket(t *testing.T, user string) string {
	t.Helper()
	code, m := postJSON(t, g.url+"/api/tickets", `{"user":"`+user+`"}`, "Authorization", "Bearer "+testEmbedKey)
	if code != 200 {
		t.Fatalf("ticket for %s: %d %v", user, code, m)
	}
	return m["ticket"].(string)
}

// exchange is the widget page's POST /api/widget/session, from the gateway's own origin.
func (g *testGateway) exchange(t *testing.T, ticket, embedder string) (int, map[string]any) {
	t.Helper()
	return postJSON(t, g.url+"/api/widget/session", `{"ticket":"`+ticket+`","embedder":"`+embedder+`"}`, "Origin", g.url)
}

func TestTicketIssue(t *testing.T) {
	g := startEmbedGateway(t, nil)
	code, m := postJSON(t, g.url+"/api/tickets", `{"user":"alice"}`, "Authorization", "Bearer "+testEmbedKey)
	if code != 200 {
		t.Fatalf("ticket: %d %v", code, m)
	}
	claims, err := g.signer.Verify(m["ticket"].(string), auth.KindTicket)
	if err != nil || claims.User != "alice" {
		t.Fatalf("issued ticket: %v %+v", err, claims)
	}
	exp, err := time.Parse(time.RFC3339, m["expiresAt"].(string))
	if err != nil || exp.After(time.Now().Add(DefaultTicketTTL)) || exp.Before(time.Now().Add(DefaultTicketTTL-5*time.Second)) {
		t.Errorf("expiresAt %v (%v), want about %v from now", m["expiresAt"], err, DefaultTicketTTL)
	}

	for name, tc := range map[string]struct {
		body, auth string
		code       int
		errCode    string
	}{
		"no key":        {`{"user":"alice"}`, "", 401, "unauthorized"},
		"wrong key":     {`{"user":"alice"}`, "Bearer not-the-key-at-all-000000", 401, "unauthorized"},
		"key prefix":    {`{"user":"alice"}`, "Bearer " + testEmbedKey[:20], 401, "unauthorized"},
		"basic scheme":  {`{"user":"alice"}`, "Basic " + testEmbedKey, 401, "unauthorized"},
		"not json":      {`user=alice`, "Bearer " + testEmbedKey, 400, "malformed"},
		"extra field":   {`{"user":"alice","admin":true}`, "Bearer " + testEmbedKey, 400, "malformed"},
		"bad user":      {`{"user":"al ice"}`, "Bearer " + testEmbedKey, 400, "bad-field"},
		"empty user":    {`{"user":""}`, "Bearer " + testEmbedKey, 400, "bad-field"},
		"not demo user": {`{"user":"mallory"}`, "Bearer " + testEmbedKey, 404, "unknown-user"},
		"ttl too long":  {`{"user":"alice","ttlSeconds":61}`, "Bearer " + testEmbedKey, 400, "bad-field"},
		"ttl zero":      {`{"user":"alice","ttlSeconds":0}`, "Bearer " + testEmbedKey, 400, "bad-field"},
		"ttl a string":  {`{"user":"alice","ttlSeconds":"5"}`, "Bearer " + testEmbedKey, 400, "malformed"},
	} {
		hdr := []string{}
		if tc.auth != "" {
			hdr = append(hdr, "Authorization", tc.auth)
		}
		if code, m := postJSON(t, g.url+"/api/tickets", tc.body, hdr...); code != tc.code || m["code"] != tc.errCode || m["message"] == "" {
			t.Errorf("%s: %d %v, want %d %s", name, code, m, tc.code, tc.errCode)
		}
	}
	if _, m := postJSON(t, g.url+"/api/tickets", `{"user":"al ice"}`, "Authorization", "Bearer "+testEmbedKey); m["field"] != "user" {
		t.Errorf("bad user names no field: %v", m)
	}
	// A host may shorten a ticket's life.
	if code, m := postJSON(t, g.url+"/api/tickets", `{"user":"alice","ttlSeconds":5}`, "Authorization", "Bearer "+testEmbedKey); code != 200 {
		t.Errorf("5 s ticket: %d %v", code, m)
	} else if exp, _ := time.Parse(time.RFC3339, m["expiresAt"].(string)); exp.After(time.Now().Add(5 * time.Second)) {
		t.Errorf("5 s ticket expires at %v", exp)
	}
	resp, err := http.Get(g.url + "/api/tickets")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET /api/tickets: %d", resp.StatusCode)
	}

	// A page of a foreign origin cannot even try (the key would be in its source anyway).
	if code, _ := postJSON(t, g.url+"/api/tickets", `{"user":"alice"}`, "Authorization", "Bearer "+testEmbedKey, "Origin", "http://evil.example"); code != 403 {
		t.Errorf("ticket from a foreign page: %d, want 403", code)
	}

	// Outside demo mode any SIP-like name is the host's to vouch for.
	prod := startEmbedGateway(t, func(c *Config) { c.Demo = false })
	if code, m := postJSON(t, prod.url+"/api/tickets", `{"user":"erin.smith"}`, "Authorization", "Bearer "+testEmbedKey); code != 200 {
		t.Errorf("ticket outside demo mode: %d %v", code, m)
	}

	none := startGateway(t, nil)
	if code, m := postJSON(t, none.url+"/api/tickets", `{"user":"alice"}`, "Authorization", "Bearer "+testEmbedKey); code != 404 || m["code"] != "not-configured" {
		t.Errorf("no embed key configured: %d %v", code, m)
	}
}

func TestWidgetSession(t *testing.T) {
	g := startEmbedGateway(t, nil)
	ticket := g.ticket(t, "alice")
	code, m := g.exchange(t, ticket, testEmbedder+"/")
	if code != 200 || m["user"] != "alice" || m["embedder"] != testEmbedder || m["expiresAt"] == nil {
		t.Fatalf("exchange: %d %v", code, m)
	}
	token := m["token"].(string)
	if c, err := g.signer.Verify(token, auth.KindSession); err != nil || c.User != "alice" {
		t.Errorf("session token: %v %+v", err, c)
	}

	// The token is an ordinary session: it opens a websocket as alice.
	c, _, err := g.dial(t, g.url)
	if err != nil {
		t.Fatal(err)
	}
	c.send(signaling.Encode("a1", &signaling.Auth{Token: token}))
	if w := expect[*signaling.Welcome](c); w.User != "alice" {
		t.Errorf("welcome %+v", w)
	}

	// Used once, it is spent.
	if code, m := g.exchange(t, ticket, testEmbedder); code != 401 || m["code"] != "ticket-used" {
		t.Errorf("reused ticket: %d %v", code, m)
	}
}

func TestWidgetSessionRefuses(t *testing.T) {
	g := startEmbedGateway(t, nil)
	// Same key, a clock in the past: a ticket that expired a second ago.
	past, err := auth.NewSigner(testSessionKey)
	if err != nil {
		t.Fatal(err)
	}
	past.Now = func() time.Time { return time.Now().Add(-DefaultTicketTTL - time.Second) }
	expired, _, _ := past.Issue("alice", auth.KindTicket, DefaultTicketTTL)
	expiredSession, _, _ := past.Issue("alice", auth.KindSession, DefaultTicketTTL)
	other, _ := auth.NewSigner(nil)
	forged, _, _ := other.Issue("alice", auth.KindTicket, time.Minute)
	session := g.signIn(t, "alice")
	good := g.ticket(t, "bob")

	for name, tc := range map[string]struct {
		ticket, code string
		status       int
	}{
		"expired":               {expired, "ticket-expired", 401},
		"forged":                {forged, "unauthorized", 401},
		"tampered":              {good[:len(good)-3] + "AAA", "unauthorized", 401},
		"session token":         {session, "unauthorized", 401},
		"expired session token": {expiredSession, "unauthorized", 401},
		"garbage":               {"hello", "unauthorized", 401},
	} {
		if status, m := g.exchange(t, tc.ticket, testEmbedder); status != tc.status || m["code"] != tc.code || m["message"] == "" {
			t.Errorf("%s: %d %v, want %d %s", name, status, m, tc.status, tc.code)
		}
	}

	// An embedder off the allowlist is refused, and that does not spend the ticket.
	for _, embedder := range []string{"http://127.0.0.3:18788", "null", "", "http://127.0.0.2:18788/path", "javascript:alert(1)"} {
		if status, m := g.exchange(t, good, embedder); status != 403 || m["code"] != "origin-not-allowed" || m["field"] != "embedder" {
			t.Errorf("embedder %q: %d %v", embedder, status, m)
		}
	}
	// Only the widget page may exchange: not a host page, not a script without Origin.
	body := `{"ticket":"` + good + `","embedder":"` + testEmbedder + `"}`
	for _, origin := range []string{testEmbedder, "http://evil.example", ""} {
		hdr := []string{}
		if origin != "" {
			hdr = []string{"Origin", origin}
		}
		if status, m := postJSON(t, g.url+"/api/widget/session", body, hdr...); status != 403 {
			t.Errorf("exchange from origin %q: %d %v, want 403", origin, status, m)
		}
	}
	for _, bad := range []string{`{}`, `{"ticket":""}`, `not json`, `{"ticket":"x","embedder":"y","user":"root"}`} {
		if status, m := postJSON(t, g.url+"/api/widget/session", bad, "Origin", g.url); status != 400 || m["code"] != "malformed" {
			t.Errorf("body %s: %d %v", bad, status, m)
		}
	}
	// After all that, the good ticket still works once — and the gateway's own origin
	// may frame its widget, as CSP frame-ancestors 'self' allows.
	if status, m := g.exchange(t, good, g.url); status != 200 || m["user"] != "bob" || m["embedder"] != g.url {
		t.Errorf("good ticket after refusals: %d %v", status, m)
	}
}

// TestTicketStoreBound: when the spent-ticket store is full the gateway refuses with 503
// rather than forget a live ticket (which would make it usable twice). That the store
// forgets expired tickets is auth's TestSpentStoreContract.
func TestTicketStoreBound(t *testing.T) {
	store := &auth.MemorySpent{Max: 3}
	g := startEmbedGateway(t, func(c *Config) { c.Tickets = store })
	for range 3 {
		if status, m := g.exchange(t, g.ticket(t, "alice"), testEmbedder); status != 200 {
			t.Fatalf("exchange: %d %v", status, m)
		}
	}
	if status, m := g.exchange(t, g.ticket(t, "alice"), testEmbedder); status != 503 || m["code"] != "busy" {
		t.Errorf("beyond the store's bound: %d %v, want 503 busy", status, m)
	}
	if n := store.Len(); n != 3 {
		t.Errorf("store holds %d", n)
	}
}

func TestWidgetFrameAncestors(t *testing.T) {
	g := startEmbedGateway(t, nil)
	for path, want := range map[string]string{
		"/widget.html":  assets.PagePolicy + "; frame-ancestors 'self' " + testEmbedder,
		"/":             assets.PagePolicy + "; frame-ancestors 'self'",
		"/index.html":   assets.PagePolicy + "; frame-ancestors 'self'",
		"/wasm_exec.js": "default-src 'none'; frame-ancestors 'self'",
		"/api/dr":       "default-src 'none'; frame-ancestors 'self'",
		"/api/nothing":  "default-src 'none'; frame-ancestors 'self'",
		"/metrics":      "default-src 'none'; frame-ancestors 'self'",
	} {
		resp, err := http.Get(g.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Values("Content-Security-Policy"); len(got) != 1 || got[0] != want {
			t.Errorf("%s: CSP %q, want %q", path, got, want)
		}
	}
}

// A gateway refuses an embed key too short to sign tickets with.
func TestEmbedKeyTooShort(t *testing.T) {
	if _, err := New(Config{Controller: newFakeController(), EmbedKey: []byte("short"), Assets: testAssets(t)}); err == nil || !strings.Contains(err.Error(), "embedKey") {
		t.Errorf("a 5-byte embed key: %v", err)
	}
}

// FuzzWidgetSession throws arbitrary bodies at the ticket exchange: every answer is a
// JSON refusal with a code, except a real ticket's first exchange, and nothing panics.
func FuzzWidgetSession(f *testing.F) {
	srv, err := New(Config{Controller: newFakeController(), Demo: true, Assets: testAssets(f), Logger: quietLogger(),
		EmbedKey: []byte(testEmbedKey), EmbedOrigins: []string{testEmbedder}, SessionKey: testSessionKey})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(srv.Close)
	signer, _ := auth.NewSigner(testSessionKey)
	ticket, _, _ := signer.Issue("alice", auth.KindTicket, time.Hour)
	f.Add(`{"ticket":"` + ticket + `","embedder":"` + testEmbedder + `"}`)
	f.Add(`{"ticket":"pk1..","embedder":"null"}`)
	f.Add(`{"ticket":1}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:18787/api/widget/session", strings.NewReader(body))
		req.Header.Set("Origin", "http://127.0.0.1:18787")
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("%d, not JSON: %q", rec.Code, rec.Body.String())
		}
		switch rec.Code {
		case 200:
			// Only a ticket signed with the gateway's key buys a session (the seed's,
			// issued afresh in each fuzzing process).
			var req widgetSessionRequest
			json.Unmarshal([]byte(body), &req)
			if c, err := signer.Verify(req.Ticket, auth.KindTicket); err != nil || m["user"] != c.User {
				t.Fatalf("a session for %q: %v", body, m)
			}
		case 400, 401, 403:
			if e, _ := m["error"].(map[string]any); e == nil || e["code"] == "" {
				t.Fatalf("%d without an error code: %v", rec.Code, m)
			}
		default:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
	})
}
