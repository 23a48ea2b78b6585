package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/gateway/dr/drtest"
	"github.com/parkway/parkway/internal/freeport"
	"github.com/parkway/parkway/signaling"
)

// waitLimit bounds every wait so a broken cluster fails the test instead of hanging
// it; far above any expected time, never a timing assertion.
const waitLimit = 30 * time.Second

// clusterWaitLimit bounds waits on clustered nodes: three Raft groups forming (or
// electing after a node's death) on a loaded machine under -race take far longer.
const clusterWaitLimit = 90 * time.Second

// retry calls do until it returns nil or a transition error, for a request that a
// stalled JetStream (a Raft election in progress) may time out; it fails after
// clusterWaitLimit.
func retry(tb testing.TB, what string, do func() error) error {
	tb.Helper()
	deadline := time.Now().Add(clusterWaitLimit)
	for {
		err := do()
		if err == nil || errors.Is(err, dr.ErrTransition) || time.Now().After(deadline) {
			return err
		}
		tb.Logf("%s: %v; retrying", what, err)
		time.Sleep(250 * time.Millisecond)
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startNode starts an embedded node and closes it when the test ends.
func startNode(tb testing.TB, cfg Config) *Node {
	tb.Helper()
	cfg.Logger = quietLogger()
	n, err := Start(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(n.Close)
	return n
}

// sharedNode is another gateway's connection to the embedded server of owner: several
// gateways on one NATS, as with an external NATS, inside one test process.
func sharedNode(tb testing.TB, owner *Node, name string) *Node {
	tb.Helper()
	n, err := owner.Attach(name)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(n.Close)
	return n
}

// pools are the two test pools every gateway probes.
type pools struct{ home, backup *drtest.Pool }

func newPools(tb testing.TB) pools { return pools{drtest.NewPool(tb), drtest.NewPool(tb)} }

func (p pools) config(homeAddr string) dr.Config {
	if homeAddr == "" {
		homeAddr = p.home.Addr()
	}
	return dr.Config{
		Home:   dr.Pool{Name: "pool-a", SIPAddr: homeAddr, Orbits: "7000-7099"},
		Backup: dr.Pool{Name: "pool-b", SIPAddr: p.backup.Addr(), Orbits: "8000-8099"},
		// Eight misses, not three: on a loaded test machine under -race three late
		// answers in a row happen, and would be a real (if false) outage here.
		ProbeMisses: 8,
		Logger:      quietLogger(),
	}
}

// gw is one running DR with the snapshots it published.
type gw struct {
	t     testing.TB
	d     *DR
	node  *Node
	mu    sync.Mutex
	snaps []dr.Snapshot
	stop  func()
}

// startDR runs a DR for cfg on node until the test ends (or stop).
func startDR(tb testing.TB, node *Node, cfg dr.Config) *gw {
	tb.Helper()
	d, err := NewDR(node, DRConfig{DR: cfg})
	if err != nil {
		tb.Fatal(err)
	}
	g := &gw{t: tb, d: d, node: node}
	cancelSub := d.Subscribe(func(s dr.Snapshot) {
		g.mu.Lock()
		g.snaps = append(g.snaps, s)
		g.mu.Unlock()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	g.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					tb.Errorf("Run: %v", err)
				}
			case <-time.After(waitLimit):
				tb.Errorf("Run did not return within %v of its context's end", waitLimit)
			}
			cancelSub()
		})
	}
	tb.Cleanup(g.stop)
	return g
}

// limit is how long a wait on this gateway may take: longer in a cluster of nodes.
func (g *gw) limit() time.Duration {
	if g.node.replicas > 1 {
		return clusterWaitLimit
	}
	return waitLimit
}

// waitFor polls until ok holds for the gateway's snapshot, failing with what after
// g.limit().
func (g *gw) waitFor(what string, ok func(dr.Snapshot) bool) dr.Snapshot {
	g.t.Helper()
	limit := g.limit()
	deadline := time.Now().Add(limit)
	for {
		s := g.d.Snapshot()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("gateway %s: waited %v for %s; last snapshot: phase %s, pools %+v; how it got there: %s", g.node.Name(), limit, what, s.Phase, s.Pools, g.history())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitStarted waits for the gateway's start: phase normal with both pools healthy. Under
// a loaded machine the probes can miss a pool eight times in a row before it answers its
// first OPTIONS, and the gateway then fails over by itself — a false outage the test did
// not cause, which the demo tests recover from the same way (cmd/parkway waitNormal):
// while the gateway is in failover or failed-over with both pools healthy it is failed
// back, once a second. A start that needed it is logged, with how it got there, and the
// phases published until then are forgotten, so a test that checks the sequence it
// causes sees only that.
func (g *gw) waitStarted(what string, ok func(dr.Snapshot) bool) {
	g.t.Helper()
	limit := g.limit()
	deadline := time.Now().Add(limit)
	var nextRecovery time.Time
	for {
		s := g.d.Snapshot()
		if ok(s) && g.lastPublished() == signaling.PhaseNormal {
			g.forgetFalseStart()
			return
		}
		healthy := s.Pools[0].Healthy && s.Pools[1].Healthy
		if healthy && (s.Phase == signaling.PhaseFailover || s.Phase == signaling.PhaseFailedOver) && time.Now().After(nextRecovery) {
			g.t.Logf("gateway %s failed over by itself at start (phase %s, both pools healthy now): failing back; how it got there: %s", g.node.Name(), s.Phase, g.history())
			if _, err := g.d.Failback(context.Background()); err != nil {
				g.t.Logf("gateway %s: failback at start: %v", g.node.Name(), err)
			}
			nextRecovery = time.Now().Add(time.Second)
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("gateway %s: waited %v for %s; last snapshot: phase %s, pools %+v; how it got there: %s", g.node.Name(), limit, what, s.Phase, s.Pools, g.history())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lastPublished is the phase of the last snapshot the subscriber was handed ("" before
// the first).
func (g *gw) lastPublished() signaling.Phase {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.snaps) == 0 {
		return ""
	}
	return g.snaps[len(g.snaps)-1].Phase
}

// forgetFalseStart drops the snapshots up to the last one that was not in phase normal,
// after logging them: a start that went through a false outage (waitStarted).
func (g *gw) forgetFalseStart() {
	h := g.history()
	g.mu.Lock()
	defer g.mu.Unlock()
	last := -1
	for i, s := range g.snaps {
		if s.Phase != signaling.PhaseNormal {
			last = i
		}
	}
	if last < 0 {
		return
	}
	g.t.Logf("gateway %s: its start went through a false outage (%s); the phases published until now are forgotten", g.node.Name(), h)
	g.snaps = slices.Clone(g.snaps[last+1:])
}

// history is what a failed wait prints of the snapshots the gateway published: each
// change of phase, and why a pool was marked down (its Detail: missed probes or a
// refused reconnection), so a phase nobody asked for explains itself.
func (g *gw) history() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var b strings.Builder
	var last signaling.Phase
	lastDown := map[string]string{}
	for _, s := range g.snaps {
		if s.Phase != last {
			fmt.Fprintf(&b, "[phase %s]", s.Phase)
			last = s.Phase
		}
		for _, p := range s.Pools {
			if !p.Healthy && p.Detail != "" && p.Detail != lastDown[p.Name] {
				fmt.Fprintf(&b, "[%s down: %s]", p.Name, p.Detail)
			}
			if p.Healthy {
				delete(lastDown, p.Name)
			} else {
				lastDown[p.Name] = p.Detail
			}
		}
	}
	if b.Len() == 0 {
		return "nothing published"
	}
	return b.String()
}

// phases is the sequence of distinct phases the gateway published.
func (g *gw) phases() []signaling.Phase {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []signaling.Phase
	for _, s := range g.snaps {
		if len(out) == 0 || out[len(out)-1] != s.Phase {
			out = append(out, s.Phase)
		}
	}
	return out
}

// waitPublished waits until the gateway's subscriber has been handed phase p
// (deliveries run after Snapshot already shows it). It cannot tell a second
// delivery of a phase from the first: wait for a repeated phase's whole sequence.
func (g *gw) waitPublished(p signaling.Phase) {
	g.t.Helper()
	waitUntil(g.t, g.node.Name()+"'s subscriber handed "+string(p), func() bool { return slices.Contains(g.phases(), p) })
}

func phaseIs(p signaling.Phase) func(dr.Snapshot) bool {
	return func(s dr.Snapshot) bool { return s.Phase == p }
}

func bothHealthy(s dr.Snapshot) bool {
	return s.Phase == signaling.PhaseNormal && s.Pools[0].Healthy && s.Pools[1].Healthy
}

// waitUntil polls cond until it holds, failing with what after waitLimit.
func waitUntil(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("waited %v for %s", waitLimit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freePorts returns n loopback ports, all different, free a moment ago for a server to
// take. They lie outside the kernel's ephemeral range, so no other test's port-0 socket
// or outgoing connection takes one before the server binds it.
func freePorts(tb testing.TB, n int) []string {
	tb.Helper()
	taken := map[int]bool{}
	var out []string
	for range n {
		port, err := freeport.UDPAndTCP("127.0.0.1", freeport.Default(), func(p int) bool { return taken[p] })
		if err != nil {
			tb.Fatal(err)
		}
		taken[port] = true
		out = append(out, "127.0.0.1:"+strconv.Itoa(port))
	}
	return out
}
