package gateway

import (
	"net/http"
	"sync/atomic"
	"testing"
)

// A page on an embed origin may embed the widget (whose ticket exchange for that
// embedder works) but never use the admin API: a failover POST from it is 403 and never reaches the admin
// handler, while the same POST from the gateway's own page and from an allowed origin
// does.
func TestEmbedOriginCannotUseAdminAPI(t *testing.T) {
	const allowed = "https://phone.example.com"
	var reached atomic.Int32
	g := startEmbedGateway(t, func(c *Config) {
		c.AllowedOrigins = []string{allowed}
		c.Admin = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reached.Add(1)
			writeJSON(w, http.StatusOK, map[string]string{"phase": "normal"})
		})
	})

	code, m := postJSON(t, g.url+"/api/dr/failover", `{}`, "Origin", testEmbedder)
	if code != http.StatusForbidden || m["code"] != "forbidden-origin" {
		t.Errorf("failover from the embed origin: %d %v, want 403 forbidden-origin", code, m)
	}
	if code, m := postJSON(t, g.url+"/api/demo/pools/pool-a/stop", `{}`, "Origin", testEmbedder); code != http.StatusForbidden {
		t.Errorf("pool stop from the embed origin: %d %v, want 403", code, m)
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("the admin handler was reached %d times from the embed origin", n)
	}

	// The widget embedded on that origin still signs in: the widget page exchanges a
	// ticket for that embedder.
	code, m = g.exchange(t, g.ticket(t, "alice"), testEmbedder)
	if code != http.StatusOK || m["user"] != "alice" || m["embedder"] != testEmbedder {
		t.Errorf("ticket exchange from the embed origin: %d %v", code, m)
	}

	for _, origin := range []string{g.url, allowed} {
		if code, m := postJSON(t, g.url+"/api/dr/failover", `{}`, "Origin", origin); code != http.StatusOK {
			t.Errorf("failover from %s: %d %v, want it to reach the admin API", origin, code, m)
		}
	}
	if n := reached.Load(); n != 2 {
		t.Errorf("admin handler reached %d times, want 2", n)
	}
}
