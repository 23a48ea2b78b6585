package cluster

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/signaling"
)

// TestNotProbedDetail pins the detail a dr.Controller gives a pool it has not probed:
// DR tells "no opinion yet" from "down" by it.
func TestNotProbedDetail(t *testing.T) {
	c, err := dr.New(newPools(t).config(""))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Snapshot().Pools {
		if p.Healthy || p.Detail != notProbed {
			t.Fatalf("fresh controller's pool %s: healthy %v, detail %q; want unhealthy, %q", p.Name, p.Healthy, p.Detail, notProbed)
		}
	}
}

// TestOneGatewayOutageFailoverFailback: one gateway on the default embedded node goes
// through the same phases a dr.Controller does — outage, then failover (nothing to
// redirect), then an admin failback to normal — publishing outage before failover.
func TestOneGatewayOutageFailoverFailback(t *testing.T) {
	t.Parallel()
	p := newPools(t)
	g := startDR(t, startNode(t, Config{Name: "gw1"}), p.config(""))
	g.waitStarted("both pools healthy in phase normal", bothHealthy)

	if err := p.home.Stop(); err != nil {
		t.Fatal(err)
	}
	g.waitFor("failover after pool-a stopped", phaseIs(signaling.PhaseFailover))
	g.waitPublished(signaling.PhaseFailover)
	if got := g.phases(); !slices.Equal(got, []signaling.Phase{signaling.PhaseNormal, signaling.PhaseOutage, signaling.PhaseFailover}) {
		t.Fatalf("phases published: %v; want normal, outage, failover", got)
	}
	if s := g.d.Snapshot(); s.ActivePool != "pool-b" || s.Pools[0].Healthy {
		t.Fatalf("in failover: active %s, pool-a healthy %v; want pool-b, false", s.ActivePool, s.Pools[0].Healthy)
	}
	if _, err := g.d.Failback(context.Background()); !errors.Is(err, dr.ErrTransition) {
		t.Fatalf("failback with pool-a down: %v; want a transition error", err)
	}
	if err := p.home.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.waitFor("pool-a healthy again", func(s dr.Snapshot) bool { return s.Pools[0].Healthy })
	if _, err := g.d.Failback(context.Background()); err != nil {
		t.Fatalf("failback: %v", err)
	}
	g.waitFor("normal after failback", phaseIs(signaling.PhaseNormal))
	if cs := g.d.ClusterStatus(); cs.Gateway != "gw1" || cs.Members != 1 || cs.Leader != "gw1" {
		t.Fatalf("cluster status %+v; want gw1, 1 member, led by gw1", cs)
	}
}

// threeGateways runs three DRs on one embedded NATS; homeAddrs overrides a gateway's
// address for pool-a ("" = the real one).
func threeGateways(t *testing.T, p pools, homeAddrs [3]string) [3]*gw {
	return threeGatewaysWith(t, p, homeAddrs, nil)
}

// threeGatewaysWith is threeGateways with edit, when not nil, applied to every
// gateway's dr.Config.
func threeGatewaysWith(t *testing.T, p pools, homeAddrs [3]string, edit func(*dr.Config)) [3]*gw {
	owner := startNode(t, Config{Name: "gw1"})
	var gws [3]*gw
	for i, name := range []string{"gw1", "gw2", "gw3"} {
		n := owner
		if i > 0 {
			n = sharedNode(t, owner, name)
		}
		gws[i] = startDR(t, n, withTimers(p.config(homeAddrs[i]), edit))
	}
	for _, g := range gws {
		waitUntil(t, g.node.Name()+" sees 3 members", func() bool { return g.d.ClusterStatus().Members == 3 })
	}
	return gws
}

// TestMajorityDeclaresPoolDown: a gateway cut off from pool-a alone does not flip the
// phase; when the others lose it too, all three go through outage to failover at the
// same revision.
func TestMajorityDeclaresPoolDown(t *testing.T) {
	t.Parallel()
	p := newPools(t)
	unreachable := newPools(t).home
	if err := unreachable.Stop(); err != nil {
		t.Fatal(err)
	}
	gws := threeGateways(t, p, [3]string{"", "", unreachable.Addr()})
	for _, g := range gws[:2] {
		g.waitStarted("both pools healthy", bothHealthy)
	}
	// gw3 sees pool-a down: give its report time to be read by the leader, several
	// probe rounds and leader ticks.
	waitUntil(t, "gw3 reporting pool-a down", func() bool {
		gws[2].d.mu.Lock()
		defer gws[2].d.mu.Unlock()
		v := gws[2].d.local.Pools[0]
		return v.Probed && !v.Healthy
	})
	time.Sleep(time.Second)
	for _, g := range gws {
		if s := g.d.Snapshot(); s.Phase != signaling.PhaseNormal || !s.Pools[0].Healthy {
			t.Fatalf("%s with one gateway of three cut off from pool-a: phase %s, pool-a healthy %v; want normal, true", g.node.Name(), s.Phase, s.Pools[0].Healthy)
		}
	}

	if err := p.home.Stop(); err != nil {
		t.Fatal(err)
	}
	var revs []uint64
	for _, g := range gws {
		g.waitFor("failover", phaseIs(signaling.PhaseFailover))
		g.waitPublished(signaling.PhaseFailover)
		if got := g.phases(); !slices.Contains(got, signaling.PhaseOutage) {
			t.Errorf("%s published %v; want an outage before failover", g.node.Name(), got)
		}
	}
	waitUntil(t, "the three gateways on one revision", func() bool {
		revs = revs[:0]
		for _, g := range gws {
			revs = append(revs, g.d.Revision())
		}
		return revs[0] == revs[1] && revs[1] == revs[2]
	})
	if s := gws[1].d.Snapshot(); s.Pools[0].Detail == "" {
		t.Errorf("pool-a down without a detail")
	}
}

// TestAdminConcurrentRequest: an admin request whose read of the phase is overtaken by
// another change before it writes is refused with a transition error (409), and the
// other change stands.
func TestAdminConcurrentRequest(t *testing.T) {
	t.Parallel()
	p := newPools(t)
	gws := threeGateways(t, p, [3]string{})
	for _, g := range gws {
		g.waitStarted("both pools healthy", bothHealthy)
	}
	var once sync.Once
	var otherErr error
	gws[0].d.beforeWrite = func() {
		once.Do(func() { _, otherErr = gws[1].d.Failover(context.Background()) })
	}
	_, err := gws[0].d.Failover(context.Background())
	var te *dr.TransitionError
	if !errors.As(err, &te) {
		t.Fatalf("the overtaken failover: %v; want a *dr.TransitionError", err)
	}
	if otherErr != nil {
		t.Fatalf("the failover that overtook it: %v", otherErr)
	}
	for _, g := range gws {
		// A planned failover with nothing to redirect completes the move: failed-over.
		g.waitFor("failed-over after one planned failover", phaseIs(signaling.PhaseFailedOver))
	}
	// And two truly concurrent requests: both apply in some order or one is refused;
	// never both lost.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() { _, errs[i] = gws[i+1].d.Failback(context.Background()) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, dr.ErrTransition) {
			t.Fatalf("concurrent failback: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("two concurrent failbacks: %d accepted (%v); want exactly 1 (failback during failback is refused)", ok, errs)
	}
	for _, g := range gws {
		g.waitFor("normal after failback", phaseIs(signaling.PhaseNormal))
	}
}

// TestLeaderCrash: the leader's connection dies without handing the lease over; another
// gateway leads within a generous deadline, and the phase it inherits is the one
// stored (neither lost nor repeated).
func TestLeaderCrash(t *testing.T) {
	t.Parallel()
	p := newPools(t)
	gws := threeGateways(t, p, [3]string{})
	for _, g := range gws {
		g.waitStarted("both pools healthy", bothHealthy)
	}
	if _, err := gws[2].d.Failover(context.Background()); err != nil {
		t.Fatal(err)
	}
	gws[0].waitFor("failed-over", phaseIs(signaling.PhaseFailedOver))
	leader, survivors := crashLeader(t, gws)
	killed := time.Now()
	before := leader.d.Revision()
	waitUntil(t, "a new leader", func() bool {
		l := survivors[0].d.ClusterStatus().Leader
		return l != "" && l != leader.node.Name()
	})
	t.Logf("new leader %s after %v", survivors[0].d.ClusterStatus().Leader, time.Since(killed).Round(time.Millisecond))
	// The new leader goes on from the stored phase: pool-a stopping now is an outage of
	// a failed-over cluster, which changes nothing but pool-a's health.
	if err := p.home.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, g := range survivors {
		s := g.waitFor("pool-a down", func(s dr.Snapshot) bool { return !s.Pools[0].Healthy })
		if s.Phase != signaling.PhaseFailedOver || g.d.Revision() <= before {
			t.Fatalf("%s after the leader's crash: phase %s at revision %d (was %d); want failed-over, later revision", g.node.Name(), s.Phase, g.d.Revision(), before)
		}
		g.waitPublished(signaling.PhaseFailedOver)
		if got := g.phases(); slices.Contains(got[slices.Index(got, signaling.PhaseFailedOver):], signaling.PhaseNormal) {
			t.Fatalf("%s went back after failed-over: %v", g.node.Name(), got)
		}
	}
	if n := survivors[0].d.ClusterStatus().Members; n != 2 {
		waitUntil(t, "2 members", func() bool { return survivors[0].d.ClusterStatus().Members == 2 })
	}
}

// TestClusteredNodes: three gateways each embed a node of one NATS cluster (R3
// buckets); killing the node of the leading gateway — its NATS server too — leaves
// the other two with a new leader and the phase.
func TestClusteredNodes(t *testing.T) {
	t.Parallel()
	p := newPools(t)
	routes := freePorts(t, 3)
	var gws [3]*gw
	var nodes [3]*Node
	var wg sync.WaitGroup
	for i, name := range []string{"gw1", "gw2", "gw3"} {
		wg.Go(func() { nodes[i] = startNode(t, Config{Name: name, Listen: routes[i], Routes: routes}) })
	}
	wg.Wait()
	for i := range nodes {
		if nodes[i] == nil || nodes[i].replicas != 3 {
			t.Fatalf("node %d: %+v; want 3 replicas", i, nodes[i])
		}
		gws[i] = startDR(t, nodes[i], p.config(""))
	}
	for _, g := range gws {
		g.waitStarted("both pools healthy and 3 members", func(s dr.Snapshot) bool { return bothHealthy(s) && g.d.ClusterStatus().Members == 3 })
	}
	if err := retry(t, "failover", func() error { _, err := gws[1].d.Failover(context.Background()); return err }); err != nil {
		t.Fatal(err)
	}
	for _, g := range gws {
		g.waitFor("failed-over", phaseIs(signaling.PhaseFailedOver))
	}
	// Give the leader time to shed its node's Raft leaderships (it checks every 500 ms).
	time.Sleep(3 * time.Second)
	var leader int
	gws[0].waitFor("a leader", func(dr.Snapshot) bool {
		name := gws[0].d.ClusterStatus().Leader
		leader = slices.IndexFunc(gws[:], func(g *gw) bool { return g.node.Name() == name })
		return leader >= 0
	})
	before := gws[leader].d.Revision()
	gws[leader].node.nc.Close()
	gws[leader].node.srv.Shutdown() // the whole node dies, its share of the Raft groups too
	killed := time.Now()
	gws[leader].stop()
	var survivors []*gw
	for i, g := range gws {
		if i != leader {
			survivors = append(survivors, g)
		}
	}
	survivors[0].waitFor("a new leader", func(dr.Snapshot) bool {
		l := survivors[0].d.ClusterStatus().Leader
		return l != "" && l != gws[leader].node.Name()
	})
	t.Logf("clustered: new leader %s after %v", survivors[0].d.ClusterStatus().Leader, time.Since(killed).Round(time.Millisecond))
	if err := retry(t, "failback", func() error { _, err := survivors[0].d.Failback(context.Background()); return err }); err != nil {
		t.Fatalf("failback after the leader's death: %v", err)
	}
	for _, g := range survivors {
		g.waitFor("normal after failback", phaseIs(signaling.PhaseNormal))
		if g.d.Revision() <= before {
			t.Fatalf("%s: revision %d after failback, %d before the crash", g.node.Name(), g.d.Revision(), before)
		}
	}
}
