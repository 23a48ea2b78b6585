package gateway

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/pool"
	"github.com/parkway/parkway/signaling"
)

// waitFor polls cond until it holds. The wait is generous (a minute): the test fails on
// what never happens, not on a slow machine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recordingRegistrar is a Registrar without SIP that counts what the gateway asked.
type recordingRegistrar struct {
	mu       sync.Mutex
	in, out  map[string]int
	failWith error
}

func newRecordingRegistrar() *recordingRegistrar {
	return &recordingRegistrar{in: map[string]int{}, out: map[string]int{}}
}

func (r *recordingRegistrar) SignIn(_ context.Context, user string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.in[user]++
	return r.failWith
}

func (r *recordingRegistrar) SignOut(_ context.Context, user string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out[user]++
	return nil
}

func (r *recordingRegistrar) counts(user string) (in, out int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.in[user], r.out[user]
}

// A reload within the grace period keeps the user signed in: the pending sign-out is
// cancelled by the new session, and nothing is un-REGISTERed.
func TestRegistrationsReloadKeepsUser(t *testing.T) {
	reg := newRecordingRegistrar()
	g := startGateway(t, func(c *Config) { c.Registrar = reg; c.SignOutGrace = time.Hour })
	c, _ := g.connect(t, "alice")
	waitFor(t, "sign-in", func() bool { in, _ := reg.counts("alice"); return in == 1 })
	c.conn.CloseNow()
	waitFor(t, "a sign-out pending after the last session ended", func() bool {
		timer, sessions := g.regState("alice")
		return timer && sessions == 0
	})
	g.connect(t, "alice")
	// The session is counted just after its welcome is queued, so wait for the count.
	waitFor(t, "the new session counted", func() bool { _, n := g.regState("alice"); return n == 1 })
	if timer, _ := g.regState("alice"); timer {
		t.Fatal("the sign-out is still pending after the reload")
	}
	if _, out := reg.counts("alice"); out != 0 {
		t.Fatalf("signed out %d times across a reload", out)
	}
}

// regState is whether user's sign-out is pending and how many sessions count.
func (g *testGateway) regState(user string) (timer bool, sessions int) {
	sessions, timer = g.phones.Registration(user)
	return timer, sessions
}

// Two tabs: closing one keeps the user; closing the last signs out after the grace.
func TestRegistrationsLastSessionSignsOut(t *testing.T) {
	reg := newRecordingRegistrar()
	g := startGateway(t, func(c *Config) { c.Registrar = reg; c.SignOutGrace = 50 * time.Millisecond })
	c1, _ := g.connect(t, "bob")
	c2, _ := g.connect(t, "bob")
	c1.conn.CloseNow()
	waitFor(t, "one session to end", func() bool { _, n := g.regState("bob"); return n == 1 })
	time.Sleep(200 * time.Millisecond) // four graces: had it been armed, it would have fired
	if _, out := reg.counts("bob"); out != 0 {
		t.Fatalf("signed out with a session still open (%d)", out)
	}
	c2.conn.CloseNow()
	waitFor(t, "the sign-out after the grace", func() bool { _, out := reg.counts("bob"); return out == 1 })
}

// A SIP sign-in failure is a JSON error to the client, and the session carries on.
func TestRegistrationsSignInFailure(t *testing.T) {
	t.Parallel()
	reg := newRecordingRegistrar()
	reg.failWith = errors.New("pool-a: 403 Forbidden")
	g := startGateway(t, func(c *Config) { c.Registrar = reg })
	c, _, err := g.dial(t, "")
	if err != nil {
		t.Fatal(err)
	}
	c.send(signaling.Encode("a1", &signaling.Auth{Token: g.signIn(t, "carol")}))
	expect[*signaling.Welcome](c)
	// The error and the first state may come in either order: the sign-in runs beside
	// the session, and replies are written before pushed state.
	var gotErr, gotState bool
	for !gotErr || !gotState {
		_, m, err := c.read()
		if err != nil {
			t.Fatal(err)
		}
		switch m := m.(type) {
		case *signaling.State:
			gotState = true
		case *signaling.Error:
			if m.Code != signaling.CodeUnavailable || !strings.Contains(m.Message, "403 Forbidden") {
				t.Fatalf("error %+v", m)
			}
			gotErr = true
		default:
			t.Fatalf("got %T %+v", m, m)
		}
	}
	c.pingPong(1)
	g.ctl.set(signaling.PhaseOutage)
	statesUntil(t, c, signaling.PhaseOutage)

	// The gateway keeps trying, and stops once the pool takes the registration.
	reg.mu.Lock()
	reg.failWith = nil
	reg.mu.Unlock()
	waitFor(t, "a retried sign-in", func() bool { in, _ := reg.counts("carol"); return in >= 2 })
	in, _ := reg.counts("carol")
	time.Sleep(3 * time.Second) // three of the phone's first backoffs (1 s): more retries would have come by now; none must
	if again, _ := reg.counts("carol"); again != in {
		t.Fatalf("%d sign-ins after one succeeded", again-in)
	}
}

// sipPools starts the demo's two pools on free loopback ports.
func sipPools(t *testing.T) (a, b *pool.Pool) {
	t.Helper()
	cfgA, cfgB := demoPoolConfigs(t)
	return startPoolPair(t, cfgA, cfgB, nil)
}

// demoPoolConfigs is the demo's pool pair on loopback, each the other's peer, on ports
// a pool stopped and started again gets back (pool.DemoConfigsOn).
func demoPoolConfigs(t testing.TB) (a, b pool.Config) {
	t.Helper()
	a, b, err := pool.DemoConfigsOn("127.0.0.1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

// startPoolPair starts two pools paired with each other (each the other's peer), after
// edit (if any) has had its say on each config; both stop when the test ends.
func startPoolPair(t testing.TB, cfgA, cfgB pool.Config, edit func(*pool.Config)) (a, b *pool.Pool) {
	t.Helper()
	cfgA.Peer.Addr, cfgB.Peer.Addr = cfgB.Listen, cfgA.Listen
	var ps []*pool.Pool
	for _, c := range []pool.Config{cfgA, cfgB} {
		if edit != nil {
			edit(&c)
		}
		p, err := pool.New(c, pool.Options{Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Stop() })
		ps = append(ps, p)
	}
	return ps[0], ps[1]
}

// The whole path with real sockets: a websocket session registers its user at the home
// pool; the home pool's death moves the registration to the backup and the phase to
// failover; an admin failover and failback bring the user home and the phase to normal;
// the last session's end un-REGISTERs after the grace period.
func TestSIPRegistrationFollowsPhases(t *testing.T) {
	poolA, poolB := sipPools(t)
	creds := ua.StaticCredentials{}
	for _, u := range pool.DemoUsers {
		creds[u.Name] = u.Password
	}
	m, err := ua.NewManager(ua.Config{
		Pools:       []ua.Pool{{Name: poolA.Name(), Addr: poolA.Addr()}, {Name: poolB.Name(), Addr: poolB.Addr()}},
		Active:      poolA.Name(),
		Credentials: creds,
		Logger:      quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ctl, err := dr.New(dr.Config{
		Home:       dr.Pool{Name: poolA.Name(), SIPAddr: poolA.Addr()},
		Backup:     dr.Pool{Name: poolB.Name(), SIPAddr: poolB.Addr()},
		Redirector: m,
		Logger:     quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() { defer close(runDone); ctl.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-runDone })
	waitFor(t, "both pools healthy", func() bool { return healthy(ctl.Snapshot(), poolA.Name()) && healthy(ctl.Snapshot(), poolB.Name()) })

	g := startGateway(t, func(c *Config) {
		c.Controller = ctl
		c.Registrar = SIPUsers(m)
		c.SignOutGrace = 300 * time.Millisecond
	})
	c, st := g.connect(t, "alice")
	if st.Phase != signaling.PhaseNormal {
		t.Fatalf("first state %+v", st)
	}
	waitFor(t, "alice registered at pool-a", func() bool { return len(poolA.Contacts("alice")) > 0 })
	if u := m.User("alice"); u == nil || u.Pool().Name != poolA.Name() {
		t.Fatalf("alice's user agent: %v", u)
	}

	// The home pool dies: outage, then failover once alice is registered at pool-b.
	poolA.Stop()
	statesUntil(t, c, signaling.PhaseFailover)
	if n := len(poolB.Contacts("alice")); n == 0 {
		t.Fatal("failover with alice not registered at pool-b")
	}
	if p, ok := m.User("alice").Registered(); !ok || p.Name != poolB.Name() {
		t.Fatalf("alice registered at %v %v, want pool-b", p, ok)
	}

	// An admin completes failover; pool-a comes back; an admin fails back.
	if _, err := ctl.Failover(ctx); err != nil {
		t.Fatal(err)
	}
	statesUntil(t, c, signaling.PhaseFailedOver)
	if err := poolA.Start(context.Background()); err != nil { // until the test's cleanup, not ctx
		t.Fatal(err)
	}
	waitFor(t, "pool-a healthy again", func() bool { return healthy(ctl.Snapshot(), poolA.Name()) })
	if _, err := ctl.Failback(ctx); err != nil {
		t.Fatal(err)
	}
	statesUntil(t, c, signaling.PhaseNormal)
	if p, ok := m.User("alice").Registered(); !ok || p.Name != poolA.Name() {
		t.Fatalf("normal with alice registered at %v %v, want pool-a", p, ok)
	}
	if len(poolA.Contacts("alice")) == 0 {
		t.Fatal("normal with no binding for alice at pool-a")
	}

	// The last tab closes: after the grace period alice is un-REGISTERed at pool-a.
	c.conn.CloseNow()
	waitFor(t, "alice un-registered at pool-a", func() bool { return len(poolA.Contacts("alice")) == 0 && m.User("alice") == nil })
}

func healthy(s dr.Snapshot, name string) bool {
	for _, p := range s.Pools {
		if p.Name == name {
			return p.Healthy
		}
	}
	return false
}
