package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/parkway/parkway/signaling"
)

// everySeries is a gateway and a pool with every metric touched once, so each family
// has a series.
func everySeries(t *testing.T) (*Gateway, *Pool) {
	g := NewGateway()
	g.Sessions(func() int { return 3 })
	g.Calls(func() map[signaling.CallState]int { return map[signaling.CallState]int{signaling.CallActive: 2} })
	g.Relay(func() Relay { return Relay{Legs: 2, ToSIP: 10, ToBrowser: 9, JitterFromSIP: 0.002} })
	g.Transition(signaling.PhaseNormal, signaling.PhaseOutage, "home-down")
	g.PoolHealth("pool-a", "home", false)
	g.Probe("pool-a", 3*time.Millisecond, true)
	g.Probe("pool-a", 0, false)
	g.Redirected("pool-b", 40*time.Millisecond, nil)
	g.FrameIn(signaling.TypeAction)
	g.FrameOut()
	g.Refused(signaling.CodeRefused)
	g.Rejected("draining")
	g.Action(signaling.ActionCall, 200*time.Millisecond, nil)
	g.Draining(true)
	p := NewPool("pool-a", true)
	p.Gauges("pool-a", PoolGauges{Up: func() bool { return true }, Draining: func() bool { return false },
		RegisteredUsers: func() int { return 4 }, OrbitsInUse: func() int { return 1 }})
	p.ParkEvent("parked")
	p.ParkRefused(486)
	return g, p
}

func families(t *testing.T, reg *prometheus.Registry) map[string]bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, mf := range mfs {
		out[mf.GetName()] = true
	}
	return out
}

var metricName = regexp.MustCompile(`parkway_[a-z_]+`)

// base is a histogram series' family name.
func base(name string) string {
	for _, s := range []string{"_bucket", "_count", "_sum"} {
		if strings.HasSuffix(name, s) && strings.Contains(name, "_seconds") {
			return strings.TrimSuffix(name, s)
		}
	}
	return name
}

// doc.go lists exactly the metrics there are, and the Grafana dashboard uses only
// those: neither can drift from the code.
func TestDocAndDashboardNameEveryMetric(t *testing.T) {
	g, p := everySeries(t)
	have := families(t, g.Registry())
	for n := range families(t, p.Registry()) {
		have[n] = true
	}
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, n := range metricName.FindAllString(string(doc), -1) {
		documented[n] = true
	}
	for n := range have {
		if strings.HasPrefix(n, "parkway_") && !documented[n] {
			t.Errorf("%s is exported but not listed in doc.go", n)
		}
	}
	for n := range documented {
		if !have[n] {
			t.Errorf("doc.go lists %s, which is not exported", n)
		}
	}
	dash, err := os.ReadFile("../deploy/grafana/parkway.json")
	if err != nil {
		t.Fatal(err)
	}
	used := 0
	for _, n := range metricName.FindAllString(string(dash), -1) {
		used++
		if !have[base(n)] {
			t.Errorf("the dashboard queries %s, which is not exported", n)
		}
	}
	if used < 20 {
		t.Errorf("the dashboard queries only %d parkway series", used)
	}
}

// Label values come from bounded sets whatever a client sends.
func TestLabelsAreBounded(t *testing.T) {
	g := NewGateway()
	g.FrameIn("a-type-nobody-knows")
	g.FrameIn("")
	g.Refused("made-up-code")
	g.Action("dance", time.Second, nil)
	g.Action(signaling.ActionPark, time.Second, &signaling.Error{Code: "made-up"})
	if v := testutil.ToFloat64(g.framesIn.WithLabelValues("invalid")); v != 2 {
		t.Errorf("invalid frames %v, want 2", v)
	}
	if v := testutil.ToFloat64(g.refusals.WithLabelValues("other")); v != 1 {
		t.Errorf("other refusals %v, want 1", v)
	}
	if n := testutil.CollectAndCount(g.actions); n != 1 {
		t.Errorf("%d action series, want 1 (park/other; an unknown action is not counted)", n)
	}
	p := NewPool("pool-a", false)
	p.ParkEvent("exploded")
	p.ParkRefused(42)
	if n := testutil.CollectAndCount(p.refusals); n != 0 {
		t.Errorf("%d refusal series for a status that is not one", n)
	}
}

// A nil *Gateway or *Pool takes every call and does nothing.
func TestNilIgnoresEverything(t *testing.T) {
	var g *Gateway
	g.Phase(signaling.PhaseNormal)
	g.Transition(signaling.PhaseNormal, signaling.PhaseOutage, "home-down")
	g.Probe("x", time.Second, true)
	g.Redirected("x", time.Second, errors.New("no"))
	g.FrameIn(signaling.TypePing)
	g.FrameOut()
	g.Refused(signaling.CodeRefused)
	g.Rejected("full")
	g.Action(signaling.ActionCall, time.Second, nil)
	g.Draining(true)
	g.Sessions(nil)
	g.Calls(nil)
	g.Relay(nil)
	g.PoolHealth("x", "home", true)
	if g.Registry() != nil {
		t.Error("a nil Gateway has a registry")
	}
	var p *Pool
	p.ParkEvent("parked")
	p.ParkRefused(486)
	p.Gauges("x", PoolGauges{})
	if p.Registry() != nil {
		t.Error("a nil Pool has a registry")
	}
}

// The phase gauges are one-hot.
func TestPhaseIsOneHot(t *testing.T) {
	g := NewGateway()
	g.Transition(signaling.PhaseNormal, signaling.PhaseFailover, "failover")
	for _, p := range signaling.Phases {
		want := 0.0
		if p == signaling.PhaseFailover {
			want = 1
		}
		if v := testutil.ToFloat64(g.phase.WithLabelValues(string(p))); v != want {
			t.Errorf("phase %s = %v, want %v", p, v, want)
		}
	}
}

func TestHandler(t *testing.T) {
	g, _ := everySeries(t)
	var notReady error
	ts := httptest.NewServer(Handler(g.Registry(), Checks{Ready: func() error { return notReady }}))
	defer ts.Close()
	get := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, ts.URL+path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, c := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/healthz", 200, "ok"},
		{"GET", "/readyz", 200, "ok"},
		{"POST", "/readyz", 405, "method not allowed"},
		{"GET", "/metrics", 200, `parkway_dr_phase{phase="outage"} 1`},
		{"GET", "/metrics", 200, `parkway_calls{state="active"} 2`},
		{"GET", "/metrics", 200, `parkway_relay_packets_total{direction="to_sip"} 10`},
		{"GET", "/metrics", 200, "go_goroutines"},
	} {
		if code, body := get(c.method, c.path); code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s %s: %d %q, want %d with %q", c.method, c.path, code, body, c.code, c.body)
		}
	}
	notReady = errors.New("no pool is healthy")
	if code, body := get("GET", "/readyz"); code != 503 || strings.TrimSpace(body) != "no pool is healthy" {
		t.Errorf("/readyz unready: %d %q", code, body)
	}
	// Two gateways in one process do not share series.
	other := NewGateway()
	other.FrameOut()
	if v := testutil.ToFloat64(g.framesOut); v != 1 {
		t.Errorf("frames out %v, want 1", v)
	}
	if !slices.Contains([]float64{1}, testutil.ToFloat64(other.framesOut)) {
		t.Error("the second gateway's counter")
	}
}
