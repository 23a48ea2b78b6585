package gateway

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parkway/parkway/metrics"
	"github.com/parkway/parkway/pool"
	"github.com/parkway/parkway/signaling"
)

// scrape reads a /metrics page into series → value, the series spelt as the text
// format spells it: name{label="value",…} with the labels in the exposition's order.
func scrape(t testing.TB, url string) map[string]float64 {
	t.Helper()
	code, body := get(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("%s: line %q: %v", url, line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// get fetches url and returns its status and body.
func get(t testing.TB, url string) (int, string) {
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

// metricAtLeast waits until the series at url reaches min.
func metricAtLeast(t *testing.T, url, series string, min float64) {
	t.Helper()
	var last float64
	poll(t, series+" ≥ "+strconv.FormatFloat(min, 'f', -1, 64), time.Minute, func() bool {
		last = scrape(t, url)[series]
		return last >= min
	})
}

// metricIs waits until the series at url is want.
func metricIs(t *testing.T, url, series string, want float64) {
	t.Helper()
	poll(t, series+" = "+strconv.FormatFloat(want, 'f', -1, 64), time.Minute, func() bool {
		v, ok := scrape(t, url)[series]
		return ok && v == want
	})
}

// readyIs waits until url/readyz answers code.
func readyIs(t *testing.T, url string, code int) string {
	t.Helper()
	var body string
	poll(t, url+"/readyz "+strconv.Itoa(code), time.Minute, func() bool {
		var c int
		c, body = get(t, url+"/readyz")
		return c == code
	})
	return body
}

// poolOps serves a pool's operations endpoints on loopback.
func poolOps(t *testing.T, p *pool.Pool) string {
	ts := httptest.NewServer(p.OpsHandler())
	t.Cleanup(ts.Close)
	return ts.URL
}

// The metrics move as a call, a park and a pool failure happen: scraped over HTTP
// from the gateway and from each pool, with a real DR controller probing real pools.
func TestMetricsFollowCallParkAndPoolFailure(t *testing.T) {
	t.Parallel()
	m := metrics.NewGateway()
	r := newCallRig(t, rigOptions{realDR: true, metrics: m})
	gw := r.g.url + "/metrics"
	opsA, opsB := poolOps(t, r.poolA), poolOps(t, r.poolB)

	if code, body := get(t, r.g.url+"/healthz"); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	readyIs(t, r.g.url, http.StatusOK)
	readyIs(t, opsA, http.StatusOK)
	metricIs(t, gw, `parkway_dr_phase{phase="normal"}`, 1)
	metricIs(t, gw, `parkway_dr_pool_healthy{pool="pool-a",role="home"}`, 1)
	metricAtLeast(t, gw, `parkway_dr_probe_rtt_seconds_count{pool="pool-a"}`, 1)

	ws := r.signedIn(t, "alice", "bob", "carol")
	aliceWS, bobWS := ws[0], ws[1]
	metricIs(t, gw, `parkway_ws_sessions`, 3)
	metricIs(t, opsA+"/metrics", `parkway_pool_registered_users{pool="pool-a"}`, 3)

	aliceID, _, aliceTab, bobTab := establish(t, aliceWS, bobWS, "bob")
	metricIs(t, gw, `parkway_calls{state="active"}`, 2) // alice's and bob's
	metricIs(t, gw, `parkway_call_actions_total{action="call",outcome="ok"}`, 1)
	metricIs(t, gw, `parkway_call_action_duration_seconds_count{action="call"}`, 1)
	metricIs(t, gw, `parkway_relay_legs`, 2)
	aliceTab.talk(aliceHz)
	bobTab.talk(bobHz)
	metricAtLeast(t, gw, `parkway_relay_packets_total{direction="to_sip"}`, 50)
	metricAtLeast(t, gw, `parkway_relay_packets_total{direction="to_browser"}`, 50)
	metricAtLeast(t, gw, `parkway_ws_messages_received_total{type="action"}`, 2)
	metricAtLeast(t, gw, `parkway_ws_messages_sent_total`, 10)

	// A refusal is counted by its code.
	aliceWS.send(request("bad", &signaling.Request{Action: signaling.ActionHold, Call: "nosuchcall"}))
	if e := nextError(t, aliceWS); e.Code != signaling.CodeNoCall {
		t.Fatalf("hold of no call: %+v", e)
	}
	metricIs(t, gw, `parkway_ws_refusals_total{code="no-call"}`, 1)

	orbit := parkCall(t, aliceWS, aliceID)
	t.Logf("parked at %s", orbit)
	metricIs(t, gw, `parkway_call_actions_total{action="park",outcome="ok"}`, 1)
	metricIs(t, opsA+"/metrics", `parkway_park_events_total{event="parked",pool="pool-a"}`, 1)
	metricIs(t, opsA+"/metrics", `parkway_park_orbits_in_use{pool="pool-a"}`, 1)
	metricIs(t, gw, `parkway_calls{state="active"}`, 1) // bob's, now with the park service

	// pool-a dies: the prober misses, the phase leaves normal, the parked call is gone
	// with its pool, and pool-a's own endpoint says it is down.
	r.poolA.Stop()
	metricAtLeast(t, gw, `parkway_dr_probe_misses_total{pool="pool-a"}`, 3)
	metricIs(t, gw, `parkway_dr_pool_healthy{pool="pool-a",role="home"}`, 0)
	metricIs(t, gw, `parkway_dr_phase_transitions_total{cause="home-down",from="normal",to="outage"}`, 1)
	metricIs(t, gw, `parkway_dr_phase{phase="normal"}`, 0)
	metricAtLeast(t, gw, `parkway_dr_redirect_duration_seconds_count{result="ok",to="pool-b"}`, 1)
	metricIs(t, opsA+"/metrics", `parkway_pool_up{pool="pool-a"}`, 0)
	metricIs(t, opsA+"/metrics", `parkway_park_orbits_in_use{pool="pool-a"}`, 0)
	if body := readyIs(t, opsA, http.StatusServiceUnavailable); !strings.Contains(body, "SIP listeners are down") {
		t.Fatalf("pool-a /readyz: %q", body)
	}
	// pool-b still serves: the gateway is ready; with pool-b gone too it is not.
	readyIs(t, r.g.url, http.StatusOK)
	r.poolB.Stop()
	if body := readyIs(t, r.g.url, http.StatusServiceUnavailable); !strings.Contains(body, "no pool is healthy") {
		t.Fatalf("gateway /readyz with both pools down: %q", body)
	}
	readyIs(t, opsB, http.StatusServiceUnavailable)
	if code, _ := get(t, r.g.url+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz with both pools down: %d, want 200 (the process lives)", code)
	}
}

// SIGTERM's drain: /readyz turns 503 at once, new websockets get 503 and new calls the
// draining error, connected tabs are told, the call going on finishes, Drain returns
// when it has, and closing then ends the tabs with 1012 (service restart).
func TestDrainLetsCallsFinish(t *testing.T) {
	t.Parallel()
	g, poolA := callGateway(t)
	aliceWS, _ := g.connect(t, "alice")
	bobWS, _ := g.connect(t, "bob")
	ready(t, g, poolA, "alice", "bob")
	g.ctl.setPools(map[string]bool{"pool-a": true, "pool-b": true})
	readyIs(t, g.url, http.StatusOK)
	aliceID, _, _, _ := establish(t, aliceWS, bobWS, "bob")

	drained := make(chan int, 1)
	go func() { drained <- g.Drain(context.Background()) }()
	if body := readyIs(t, g.url, http.StatusServiceUnavailable); !strings.Contains(body, "draining") {
		t.Fatalf("/readyz while draining: %q", body)
	}
	await(aliceWS, "the draining message", true, anything[*signaling.Draining])
	if _, res, err := g.dial(t, ""); err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a new websocket while draining: %v %v, want 503", res, err)
	}
	tab := newBrowser(t, true)
	bobWS.send(request("new", &signaling.Request{Action: signaling.ActionCall, Target: "alice", SDP: tab.offer().SDP}))
	if e := nextError(t, bobWS); e.Code != signaling.CodeDraining || e.Ref != "new" {
		t.Fatalf("a new call while draining: %+v", e)
	}
	select {
	case n := <-drained:
		t.Fatalf("Drain returned with %d calls while one was up", n)
	case <-time.After(300 * time.Millisecond):
	}
	// The call in progress still works: hanging it up is taken.
	act(aliceWS, "bye", signaling.ActionHangup, aliceID)
	ended(t, aliceWS, aliceID)
	select {
	case n := <-drained:
		if n != 0 {
			t.Fatalf("Drain returned with %d calls", n)
		}
	case <-time.After(time.Minute):
		t.Fatal("Drain did not return within a minute of the last call ending")
	}
	g.Close()
	if ce := aliceWS.expectClosed(); ce.Code != websocket.StatusServiceRestart {
		t.Fatalf("close after drain: %v, want 1012", ce)
	}
}

// A drain that outlasts its timeout returns with the calls still up.
func TestDrainTimeout(t *testing.T) {
	poolA, poolB := sipPools(t)
	g := startGateway(t, func(c *Config) {
		c.SIP, c.Media, c.SignOutGrace = sipManager(t, poolA, poolB), testFactory(t), time.Hour
		c.DrainTimeout = 200 * time.Millisecond
	})
	aliceWS, _ := g.connect(t, "alice")
	bobWS, _ := g.connect(t, "bob")
	ready(t, g, poolA, "alice", "bob")
	establish(t, aliceWS, bobWS, "bob")
	if n := g.Drain(context.Background()); n != 2 {
		t.Fatalf("Drain after its timeout: %d calls up, want 2", n)
	}
}
