package failover

import (
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parkway/parkway/browsertest"
	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/signaling"
)

// A pool that hangs instead of dying (SIGSTOP: its sockets stay open, the kernel still
// queues datagrams for it, nothing answers) is an outage like a crash. When it wakes
// up (SIGCONT) it answers probes again — with stale registrations and whatever it had
// queued — and that alone must not bring the users home: the phase returns to normal
// only through failback, by the admin or by autoFailbackAfter, and until then the
// gateway's /api/dr and every tab agree on one phase and one active pool.
func TestChaosPoolHangs(t *testing.T) {
	// Beside the other tests, not before them (TestSeedTablesOnThreeGateways says why).
	parallel(t)
	for _, tc := range []struct {
		name         string
		autoFailback time.Duration
	}{{"admin failback", 0}, {"auto-failback", 2 * time.Second}} {
		t.Run(tc.name, func(t *testing.T) {
			parallel(t)
			c := startCluster(t, clusterOptions{autoFailback: tc.autoFailback})
			alice, bob := c.phone("alice"), c.phone("bob")
			ac, bc := connectCall(t, alice, bob)

			poolA := c.procs["pool-a"].cmd.Process
			if err := poolA.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			// Whatever happens, wake it so the cluster can stop it.
			t.Cleanup(func() { _ = poolA.Signal(syscall.SIGCONT) })
			stopped := time.Now()
			phases(t, signaling.PhaseFailover, alice, bob)
			t.Logf("pool-a stopped → failover pushed: %s", since(stopped))
			c.waitStatus("failover with pool-a down", func(s dr.Snapshot) bool {
				return s.Phase == signaling.PhaseFailover && !healthy(s, "pool-a") && s.ActivePool == "pool-b"
			})
			c.failover()
			phases(t, signaling.PhaseFailedOver, alice, bob)
			talking(t, "alice", ac, "bob", bc)

			gw := c.procs["gateway"]
			gw.out.mark() // phase changes are looked for from here on
			if err := poolA.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			c.waitStatus("pool-a healthy again after SIGCONT", func(s dr.Snapshot) bool { return healthy(s, "pool-a") })
			if tc.autoFailback == 0 {
				// Several probe rounds with pool-a answering: nothing moves by itself.
				consistent(t, c, signaling.PhaseFailedOver, "pool-b", 3*time.Second, alice, bob)
				// New calls go through the backup, where everyone is registered.
				cc, dc := connectCall(t, bob, alice)
				hangUp(t, bob, cc, dc)
				c.failback()
			}
			phases(t, signaling.PhaseNormal, alice, bob)
			consistent(t, c, signaling.PhaseNormal, "pool-a", time.Second, alice, bob)
			want := []string{"failed-over→failback", "failback→normal"}
			if got := phaseChanges(gw); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("phase changes after pool-a woke up: %v, want %v (normal only through failback)", got, want)
			}
			talking(t, "alice", ac, "bob", bc)
			cc, dc := connectCall(t, alice, bob) // through pool-a again
			hangUp(t, alice, cc, dc)
		})
	}
}

// consistent checks, for d, that /api/dr and every tab say phase with active pool.
func consistent(t *testing.T, c *cluster, phase signaling.Phase, active string, d time.Duration, phones ...*browsertest.Phone) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		s, err := c.admin.Status(step(t))
		if err != nil {
			t.Fatal(err)
		}
		if s.Phase != phase || s.ActivePool != active {
			t.Fatalf("/api/dr says %s with %s active, want %s with %s: %+v", s.Phase, s.ActivePool, phase, active, s)
		}
		for _, p := range phones {
			if got := p.State(); got.Phase != phase || got.ActivePool != active {
				t.Fatalf("%s's tab was told %s with %s active, /api/dr says %s with %s", p.User(), got.Phase, got.ActivePool, phase, active)
			}
		}
	}
}

var phaseChange = regexp.MustCompile(`msg="dr: phase change" component=dr from=(\S+) to=(\S+)`)

// phaseChanges lists the gateway's phase changes logged since its log's mark.
func phaseChanges(p *proc) []string {
	var out []string
	b := p.out.bytes()
	p.out.mu.Lock()
	from := p.out.from
	p.out.mu.Unlock()
	for _, m := range phaseChange.FindAllStringSubmatch(string(b[from:]), -1) {
		out = append(out, m[1]+"→"+m[2])
	}
	return out
}

// hangUp ends a call from the caller's side and waits until both ends see it end.
func hangUp(t *testing.T, caller *browsertest.Phone, calls ...*browsertest.Call) {
	t.Helper()
	if err := calls[0].Hangup(step(t)); err != nil {
		t.Fatalf("%s hangs up: %v", caller.User(), err)
	}
	for _, c := range calls {
		if _, err := c.WaitState(step(t), signaling.CallEnded); err != nil {
			t.Fatal(err)
		}
	}
}
