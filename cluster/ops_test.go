package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/common/expfmt"

	"github.com/parkway/parkway/metrics"
	"github.com/parkway/parkway/signaling"
)

// TestOperatedLikeController: an operator sees one gateway on the cluster as they see
// a dr.Controller — the phase gauge from the start, every phase change counted by its
// cause and logged as "dr: phase change" with component=dr, and the prober's lines
// (a pool down, healthy) passed on, but not the local prober's own phase changes.
func TestOperatedLikeController(t *testing.T) {
	t.Parallel()
	p := newPools(t)
	var logs lockedBuffer
	m := metrics.NewGateway()
	cfg := p.config("")
	cfg.Metrics, cfg.Logger = m, slog.New(slog.NewTextHandler(&logs, nil))
	node := startNode(t, Config{Name: "gw1"})
	d, err := NewDR(node, DRConfig{DR: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if text := exposition(t, m); !strings.Contains(text, `parkway_dr_phase{phase="normal"} 1`) {
		t.Fatalf("before Run, /metrics lacks the normal phase:\n%s", text)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	waitUntil(t, "both pools healthy", func() bool { return bothHealthy(d.Snapshot()) })
	if err := p.home.Stop(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "phase failover after pool-a stopped", func() bool { return d.Snapshot().Phase == signaling.PhaseFailover })

	text := exposition(t, m)
	for _, want := range []string{
		`parkway_dr_phase{phase="failover"} 1`,
		`parkway_dr_phase{phase="normal"} 0`,
		`parkway_dr_phase_transitions_total{cause="home-down",from="normal",to="outage"} 1`,
		`parkway_dr_phase_transitions_total{cause="redirected",from="outage",to="failover"} 1`,
		`parkway_dr_pool_healthy{pool="pool-a",role="home"} 0`,
		`parkway_dr_pool_healthy{pool="pool-b",role="backup"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, text)
		}
	}
	out := logs.String()
	for _, want := range []string{
		`msg="dr: phase change" component=dr from=normal to=outage event=home-down`,
		`msg="dr: phase change" component=dr from=outage to=failover event=redirected`,
		`msg="dr: pool healthy" probe=gw1 component=dr pool=pool-a`,
		`msg="dr: pool down" probe=gw1 component=dr pool=pool-a`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if n := strings.Count(out, `msg="dr: phase change"`); n != 2 {
		t.Errorf("%d phase changes logged, want 2 (the cluster's, not the local prober's):\n%s", n, out)
	}
}

// exposition is m's registry in the text format /metrics serves.
func exposition(t *testing.T, m *metrics.Gateway) string {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAdminRequestAfterLeaderWrite: an admin request overtaken by the leader's write (a
// health event, a redirection done) is applied to the newer phase, not refused — as a
// dr.Controller applies it after whatever its prober did. Only another admin's write
// makes it a 409 (TestAdminConcurrentRequest).
func TestAdminRequestAfterLeaderWrite(t *testing.T) {
	t.Parallel()
	g := startDR(t, startNode(t, Config{Name: "gw1"}), newPools(t).config(""))
	g.waitStarted("both pools healthy", bothHealthy)
	var once sync.Once
	var leaderErr error
	g.d.beforeWrite = func() {
		once.Do(func() {
			rec, rev, err := g.d.readPhase(context.Background())
			if err == nil {
				rec.By = "gw1 leader"
				b, _ := json.Marshal(rec)
				_, err = g.d.phaseKV.Update(context.Background(), keyPhase, b, rev)
			}
			leaderErr = err
		})
	}
	if _, err := g.d.Failover(context.Background()); err != nil {
		t.Fatalf("failover overtaken by the leader's write: %v; want it applied", err)
	}
	if leaderErr != nil {
		t.Fatalf("the leader's write: %v", leaderErr)
	}
	g.waitFor("failed-over after the planned failover", phaseIs(signaling.PhaseFailedOver))
}
