package failover

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parkway/parkway/gateway/admin"
	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/signaling"
)

// This file is issue #11 with real processes: three `parkway gateway` processes whose
// embedded NATS nodes form one cluster (cluster.listen/routes), over the two pools.

// threeGateways is a cluster of pools (startCluster's, without its lone gateway) and
// three gateways, gw1..gw3; gw3 reaches pool-a through relay, which the test can cut.
type threeGateways struct {
	*cluster
	names []string
	urls  map[string]string
	relay *cutRelay
}

const testEmbedKey = "failover-embed-key-0123456789"

// clusterWait bounds a wait on the gateways' cluster: longer than wait, because a
// gateway's death can stall the NATS cluster's Raft groups for their election timeout
// (4–9 s, more on a loaded machine) before the survivors agree on anything.
const clusterWait = 60 * time.Second

func startThreeGateways(t testing.TB, users ...string) *threeGateways {
	return startThreeGatewaysWith(t, users, nil)
}

// startThreeGatewaysWith is startThreeGateways with edit, when not nil, rewriting the
// gateways' common configuration first.
func startThreeGatewaysWith(t testing.TB, users []string, edit func(yaml string) string) *threeGateways {
	started := time.Now()
	c := &cluster{t: t, dir: t.TempDir(), opts: clusterOptions{plainUDP: true, holdoutAt: "pool-a", users: users}, procs: map[string]*proc{}}
	c.ports = map[string]int{"pool-a": freePort(t), "pool-b": freePort(t), "pool-a-tls": freePort(t), "pool-b-tls": freePort(t)}
	c.opts.gatewayYAML = "embedKeyFile: embed.key\nembedOrigins: [\"http://127.0.0.2:18788\"]\n"
	c.writeConfigs()
	if err := os.WriteFile(filepath.Join(c.dir, "embed.key"), []byte(testEmbedKey), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.stop)
	c.startPool("pool-a")
	c.startPool("pool-b")
	g := &threeGateways{cluster: c, names: []string{"gw1", "gw2", "gw3"}, urls: map[string]string{}}
	g.relay = startCutRelay(t, c.ports["pool-a"])
	base, err := os.ReadFile(filepath.Join(c.dir, "gateway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		base = []byte(edit(string(base)))
	}
	routes := []string{fmt.Sprint("127.0.0.1:", freePort(t)), fmt.Sprint("127.0.0.1:", freePort(t)), fmt.Sprint("127.0.0.1:", freePort(t))}
	t.Cleanup(func() { // before c.stop: gateways go first, as cluster.stop does
		// and, as there, killed when a pool is dead: an interrupted gateway says goodbye
		// to its pools, each goodbye to a dead one bounded by the 10 s request timeout,
		// after which stop kills it anyway
		poolDead := false
		for _, name := range []string{"pool-a", "pool-b"} {
			if p := c.procs[name]; p != nil && p.exited() {
				poolDead = true
			}
		}
		for _, n := range g.names {
			if p := c.procs[n]; p != nil {
				t0 := time.Now()
				if poolDead {
					p.kill()
				} else {
					p.stop()
				}
				if d := time.Since(t0); d > 3*time.Second {
					t.Logf("%s took %v to stop", n, d.Round(time.Millisecond))
				}
				if t.Failed() {
					t.Logf("--- %s log (end) ---\n%s", n, p.tail(40))
				}
			}
		}
	})
	for i, name := range g.names {
		yaml := string(base)
		if name == "gw3" {
			yaml = strings.ReplaceAll(yaml, fmt.Sprintf("sip: 127.0.0.1:%d,", c.ports["pool-a"]), "sip: "+g.relay.Addr()+",")
		}
		yaml += fmt.Sprintf("cluster:\n  name: %s\n  listen: %s\n  routes: [%s]\n", name, routes[i], strings.Join(routes, ", "))
		path := filepath.Join(c.dir, name+".yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		c.start(name, "gateway", "--config", path)
	}
	for _, name := range g.names {
		line := c.procs[name].waitLineWithin(t, gatewayLine, clusterWait)
		g.urls[name] = gatewayLine.FindStringSubmatch(line)[1]
	}
	g.waitAll("normal, both pools healthy, 3 members", func(s clusterDR) bool {
		return s.Phase == signaling.PhaseNormal && healthy(s.Snapshot, "pool-a") && healthy(s.Snapshot, "pool-b") && s.Cluster.Members == 3
	})
	t.Logf("three gateways up, clustered and normal after %v", time.Since(started).Round(time.Millisecond))
	return g
}

// clusterDR is GET /api/dr of a gateway in a cluster.
type clusterDR struct {
	dr.Snapshot
	Cluster admin.ClusterStatus `json:"cluster"`
}

func (g *threeGateways) status(name string) (clusterDR, error) {
	var s clusterDR
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.urls[name]+"/api/dr", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// waitAll waits until every gateway still running answers a status ok accepts.
func (g *threeGateways) waitAll(what string, ok func(clusterDR) bool) map[string]clusterDR {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	for {
		all, last := map[string]clusterDR{}, ""
		for _, n := range g.names {
			if p := g.procs[n]; p == nil || isDone(p) {
				continue
			}
			s, err := g.status(n)
			if err != nil || !ok(s) {
				last = fmt.Sprintf("%s: %+v %v (err %v)", n, s.Phase, s.Cluster, err)
				break
			}
			all[n] = s
		}
		if last == "" {
			return all
		}
		select {
		case <-ctx.Done():
			g.t.Fatalf("waiting for %s on every gateway: last %s", what, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func isDone(p *proc) bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// TestThreeGateways: the DR phase is one for three gateway processes — a gateway cut
// off from pool-a alone flips nothing, a widget ticket raced on two gateways is
// accepted once, pool-a's death is an outage then a failover on all three at one
// revision, and the leader's SIGKILL leaves the others a new leader and the phase.
func TestThreeGateways(t *testing.T) {
	parallel(t)
	g := startThreeGateways(t)

	t.Run("partition", func(t *testing.T) {
		g.relay.cut.Store(true)
		defer g.relay.cut.Store(false)
		// gw3's prober marks pool-a down after three misses (under a second); its
		// report reaches the leader within a tick. Watch the cluster well past that.
		deadline := time.Now().Add(4 * time.Second)
		for time.Now().Before(deadline) {
			for _, n := range g.names {
				s, err := g.status(n)
				if err != nil {
					t.Fatal(err)
				}
				if s.Phase != signaling.PhaseNormal || !healthy(s.Snapshot, "pool-a") {
					t.Fatalf("%s with only gw3 cut off from pool-a: phase %s, pool-a %+v; want normal and healthy", n, s.Phase, s.Pools[0])
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("ticket raced on two gateways", func(t *testing.T) {
		ticket := g.buyTicket("alice")
		var accepted atomic.Int32
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i, n := range []string{"gw1", "gw2"} {
			wg.Go(func() {
				body, _ := json.Marshal(map[string]string{"ticket": ticket, "embedder": "http://127.0.0.2:18788"})
				req, _ := http.NewRequest(http.MethodPost, g.urls[n]+"/api/widget/session", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Origin", g.urls[n]) // the widget page is the gateway's own
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				codes[i] = resp.StatusCode
				if resp.StatusCode == http.StatusOK {
					accepted.Add(1)
				}
			})
		}
		wg.Wait()
		if accepted.Load() != 1 {
			t.Fatalf("one ticket on gw1 and gw2 at once: statuses %v; want exactly one 200", codes)
		}
	})

	t.Run("pool-a killed", func(t *testing.T) {
		// erin is known to pool-a only: while she is signed in (on gw1), gw1 cannot
		// finish its redirection, so the outage lasts for every tab to see it.
		erin := g.phoneAt("gw1", holdout)
		var tabs = map[string]interface {
			WaitPhase(context.Context, signaling.Phase) error
		}{}
		for i, n := range g.names {
			tabs[n] = g.phoneAt(n, demoUsers[i])
		}
		g.kill("pool-a")
		for n, tab := range tabs {
			if err := tab.WaitPhase(step(t), signaling.PhaseOutage); err != nil {
				t.Fatalf("%s: %v", n, err)
			}
		}
		erin.Close()
		for n, tab := range tabs {
			if err := tab.WaitPhase(step(t), signaling.PhaseFailover); err != nil {
				t.Fatalf("%s: %v", n, err)
			}
		}
		all := g.waitAll("failover at one revision", func(s clusterDR) bool { return s.Phase == signaling.PhaseFailover })
		var revs []uint64
		for _, n := range g.names {
			revs = append(revs, all[n].Cluster.Revision)
		}
		if revs[0] != revs[1] || revs[1] != revs[2] || revs[0] == 0 {
			g.waitAll("one revision", func(s clusterDR) bool { return s.Cluster.Revision == max(revs[0], revs[1], revs[2]) })
		}
	})

	t.Run("leader killed", func(t *testing.T) {
		leader := g.leader()
		s, err := g.status("gw1")
		if err != nil {
			t.Fatal(err)
		}
		before := s.Cluster.Revision
		killed := g.kill(leader)
		all := g.waitAll("a new leader", func(s clusterDR) bool {
			return s.Cluster.Leader != "" && s.Cluster.Leader != leader
		})
		took := time.Since(killed)
		t.Logf("leader %s SIGKILLed; new leader after %v (noisy machine)", leader, took.Round(time.Millisecond))
		// Not lost, not repeated: the new leader finds the phase the old one wrote and
		// has nothing to add to it (failover waits for the admin), so the revision
		// is the one before the kill.
		for n, s := range all {
			if s.Phase != signaling.PhaseFailover || s.Cluster.Revision != before {
				t.Fatalf("%s after the leader's death: phase %s at revision %d (was failover at %d)", n, s.Phase, s.Cluster.Revision, before)
			}
		}
		// The new leader carries on: an admin failover on a survivor completes it.
		var survivor string
		for n := range all {
			survivor = n
		}
		c := &admin.Client{Gateway: g.urls[survivor]}
		deadline := time.Now().Add(clusterWait)
		for {
			_, err := c.Failover(step(t))
			if err == nil {
				break
			}
			// A 409 is a real refusal; anything else (a 500 while JetStream still elects)
			// is retried until the deadline.
			var apiErr *admin.APIError
			if errors.As(err, &apiErr) && apiErr.Status == http.StatusConflict || time.Now().After(deadline) {
				t.Fatalf("failover on %s after the leader's death: %v", survivor, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
		g.waitAll("failed-over", func(s clusterDR) bool { return s.Phase == signaling.PhaseFailedOver })
	})
}

// phoneAt signs user in on gateway name, without waiting for SIP registration.
func (g *threeGateways) phoneAt(name, user string) interface {
	WaitPhase(context.Context, signaling.Phase) error
	Close()
} {
	g.t.Helper()
	return g.tabOn(name, user)
}

// buyTicket is a host backend's POST /api/tickets on gw1.
func (g *threeGateways) buyTicket(user string) string {
	g.t.Helper()
	body, _ := json.Marshal(map[string]string{"user": user})
	req, _ := http.NewRequestWithContext(step(g.t), http.MethodPost, g.urls["gw1"]+"/api/tickets", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testEmbedKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Ticket string `json:"ticket"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Ticket == "" {
		g.t.Fatalf("POST /api/tickets: status %d, %v", resp.StatusCode, err)
	}
	return out.Ticket
}

// cutRelay forwards UDP between gateways and a pool, and drops everything while cut:
// one gateway's path to one pool, cut without touching the others'.
type cutRelay struct {
	conn *net.UDPConn
	pool *net.UDPAddr
	cut  atomic.Bool
	mu   sync.Mutex
	legs map[string]*net.UDPConn // client address → its socket towards the pool
	wg   sync.WaitGroup
}

func startCutRelay(t testing.TB, poolPort int) *cutRelay {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := &cutRelay{conn: conn, pool: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: poolPort}, legs: map[string]*net.UDPConn{}}
	r.wg.Go(r.serve)
	t.Cleanup(func() {
		conn.Close()
		r.mu.Lock()
		for _, l := range r.legs {
			l.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	})
	return r
}

func (r *cutRelay) Addr() string { return r.conn.LocalAddr().String() }

func (r *cutRelay) serve() {
	buf := make([]byte, 65536)
	for {
		n, from, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if r.cut.Load() {
			continue
		}
		r.mu.Lock()
		leg := r.legs[from.String()]
		if leg == nil {
			if leg, err = net.DialUDP("udp", nil, r.pool); err != nil {
				r.mu.Unlock()
				continue
			}
			r.legs[from.String()] = leg
			r.wg.Go(func() { r.back(leg, from) })
		}
		r.mu.Unlock()
		leg.Write(buf[:n])
	}
}

// back relays the pool's answers to client. A read refused (the ICMP port unreachable
// of a pool that is down) is not the end: the pool may be restarted on its port.
func (r *cutRelay) back(leg *net.UDPConn, client *net.UDPAddr) {
	buf := make([]byte, 65536)
	for {
		n, err := leg.Read(buf)
		if errors.Is(err, syscall.ECONNREFUSED) {
			continue
		}
		if err != nil {
			return
		}
		if !r.cut.Load() {
			r.conn.WriteToUDP(buf[:n], client)
		}
	}
}
