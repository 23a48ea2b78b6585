package pool

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The pool's operations listener: /healthz while the process serves, /readyz 200 while
// the SIP listeners are up and not draining, /metrics with the pool's series; a drain
// and a stop each turn /readyz 503 with the reason.
func TestOpsEndpoints(t *testing.T) {
	cfg := testConfig("pool-a", Range{Start: "7000", End: "7099"})
	cfg.HTTP = "127.0.0.1:0"
	p := startPool(t, cfg, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	addr, errc, err := p.ServeOps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("ServeOps: %v", err)
		}
	})
	base := "http://" + addr
	expect := func(path string, code int, body string) {
		t.Helper()
		c, b := httpGet(t, base+path)
		if c != code || !strings.Contains(b, body) {
			t.Fatalf("GET %s: %d %q, want %d with %q", path, c, b, code, body)
		}
	}
	expect("/healthz", 200, "ok")
	expect("/readyz", 200, "ok")
	expect("/metrics", 200, `parkway_pool_up{pool="pool-a"} 1`)
	expect("/metrics", 200, `parkway_park_orbits_in_use{pool="pool-a"} 0`)
	expect("/metrics", 200, `parkway_pool_registered_users{pool="pool-a"} 0`)
	if c, _ := httpGet(t, base+"/nothing"); c != 404 {
		t.Fatalf("GET /nothing: %d", c)
	}
	p.Drain()
	expect("/readyz", 503, "draining")
	expect("/metrics", 200, `parkway_pool_draining{pool="pool-a"} 1`)
	p.Stop()
	expect("/readyz", 503, "SIP listeners are down")
	expect("/metrics", 200, `parkway_pool_up{pool="pool-a"} 0`)
	expect("/healthz", 200, "ok")

	// Without an http address there is no listener.
	if a, _, err := startPool(t, testConfig("pool-b", Range{Start: "8000", End: "8099"}), Options{}).ServeOps(ctx); a != "" || err != nil {
		t.Fatalf("ServeOps without http: %q %v", a, err)
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
