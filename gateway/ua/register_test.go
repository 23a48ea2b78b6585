package ua

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/pool"
)

func TestRegisterRefreshUnregister(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{MinExpires: time.Second})
	cfg := ps.config(demoUsers)
	cfg.Expires = 2 * time.Second
	cfg.RefreshAt = 0.5
	m := newManager(t, cfg)
	alice := signIn(t, m, "alice")
	if got := ps.a.Contacts("alice"); len(got) != 1 || !strings.Contains(got[0], m.Addr()) {
		t.Fatalf("pool-a contacts for alice = %v, want one at %s", got, m.Addr())
	}
	if p, ok := alice.Registered(); !ok || p.Name != "pool-a" {
		t.Fatalf("Registered = %v %v", p, ok)
	}
	// Refreshes happen on their own: the binding outlives several lifetimes.
	first := alice.reg.at
	eventually(t, "two refreshes", func() bool {
		alice.reg.mu.Lock()
		defer alice.reg.mu.Unlock()
		return alice.reg.at.Sub(first) > 2*time.Second
	})
	if got := ps.a.Contacts("alice"); len(got) != 1 {
		t.Fatalf("after refreshes pool-a contacts = %v", got)
	}
	if err := alice.SignOut(testCtx(t)); err != nil {
		t.Fatalf("SignOut: %v", err)
	}
	if got := ps.a.Contacts("alice"); len(got) != 0 {
		t.Fatalf("after sign-out pool-a contacts = %v", got)
	}
	if m.User("alice") != nil {
		t.Fatal("alice still signed in")
	}
}

func TestSignInWrongPassword(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	cfg := ps.config(demoUsers)
	cfg.Credentials = StaticCredentials{"alice": "wrong"}
	m := newManager(t, cfg)
	_, err := m.SignIn(testCtx(t), "alice")
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 403 {
		t.Fatalf("SignIn with a wrong password: %v, want 403", err)
	}
	if m.User("alice") != nil {
		t.Fatal("failed sign-in left a user behind")
	}
}

func TestRedirectAndBack(t *testing.T) {
	checkNoLeaks(t)
	users := manyUsers(20)
	ps := startPools(t, users, pool.Options{})
	m := newManager(t, ps.config(users))
	ctx := testCtx(t)
	for _, u := range users {
		signIn(t, m, u.Name)
	}
	for _, to := range []string{"pool-b", "pool-a", "pool-b"} {
		if err := m.Redirect(ctx, to); err != nil {
			t.Fatalf("Redirect %s: %v", to, err)
		}
		if m.Active().Name != to {
			t.Fatalf("Active = %s, want %s", m.Active().Name, to)
		}
		p := ps.a
		if to == "pool-b" {
			p = ps.b
		}
		for _, u := range users {
			if got := p.Contacts(u.Name); len(got) == 0 {
				t.Fatalf("%s not registered at %s after Redirect", u.Name, to)
			}
			if rp, ok := m.User(u.Name).Registered(); !ok || rp.Name != to {
				t.Fatalf("%s Registered = %s %v", u.Name, rp.Name, ok)
			}
		}
	}
	// Signing in after a redirect registers at the new active pool.
	m.User("alice").SignOut(ctx)
	alice := signIn(t, m, "alice")
	if p, _ := alice.Registered(); p.Name != "pool-b" {
		t.Fatalf("alice signed in at %s, want pool-b", p.Name)
	}
}

func TestRedirectNamesWhoFailed(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	// pool-c is a pool that is down: its address swallows every packet.
	hole, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	cfg := ps.config(demoUsers)
	cfg.Pools = append(cfg.Pools, Pool{Name: "pool-c", Addr: hole.LocalAddr().String()})
	cfg.RequestTimeout = 2 * time.Second
	m := newManager(t, cfg)
	signIn(t, m, "alice")
	signIn(t, m, "bob")
	err = m.Redirect(testCtx(t), "pool-c")
	var re *RedirectError
	if !errors.As(err, &re) || len(re.Failed) != 2 || re.Failed["alice"] == nil {
		t.Fatalf("Redirect to a dead pool: %v", err)
	}
	if !strings.Contains(err.Error(), "alice") || !strings.Contains(err.Error(), "bob") {
		t.Fatalf("error does not name the users: %v", err)
	}
	if err := m.Redirect(testCtx(t), "nowhere"); err == nil {
		t.Fatal("Redirect to an unknown pool succeeded")
	}
	// The DR controller retries, or aims elsewhere: a later Redirect completes.
	if err := m.Redirect(testCtx(t), "pool-b"); err != nil {
		t.Fatalf("Redirect after a failed one: %v", err)
	}
	for _, u := range []string{"alice", "bob"} {
		if p, ok := m.User(u).Registered(); !ok || p.Name != "pool-b" {
			t.Fatalf("%s at %s %v", u, p.Name, ok)
		}
	}
}

// TestRedirectManyUsersAtOnce: a Redirect pre-authorizes its REGISTERs with the pool's
// last challenge, and the pool refuses a nonce-count it has already seen or one below
// the highest seen (replay protection), which REGISTERs sent 64 at a time and handled
// concurrently often trip over. Every user must still be registered: one refused that
// way retries with a challenge no other REGISTER is using.
func TestRedirectManyUsersAtOnce(t *testing.T) {
	users := manyUsers(300)
	ps := startPools(t, users, pool.Options{})
	m := newManager(t, ps.config(users))
	ctx := testCtx(t)
	for _, u := range users {
		if _, err := m.SignIn(ctx, u.Name); err != nil {
			t.Fatal(err)
		}
	}
	for _, to := range []string{"pool-b", "pool-a", "pool-b"} {
		if err := m.Redirect(ctx, to); err != nil {
			t.Fatalf("Redirect to %s: %v", to, err)
		}
	}
}

// BenchmarkRedirect measures moving every user from pool-a to pool-b (and back, on
// alternate iterations) with digest authentication, on loopback.
func BenchmarkRedirect(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			users := manyUsers(n - len(demoUsers))
			ps := startPools(b, users, pool.Options{})
			m := newManager(b, ps.config(users))
			ctx := context.Background()
			for _, u := range users {
				if _, err := m.SignIn(ctx, u.Name); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				to := "pool-b"
				if i%2 == 1 {
					to = "pool-a"
				}
				if err := m.Redirect(ctx, to); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/redirect")
		})
	}
}

// TestRedirectCutsShortARegisterToADeadPool: a sign-in whose REGISTER went to the pool
// that just died must not hold the move to the backup for the REGISTER's whole timeout
// (which the DR controller would see as a slow failover).
func TestRedirectCutsShortARegisterToADeadPool(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	hole, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	cfg := ps.config(demoUsers)
	cfg.Pools = append(cfg.Pools, Pool{Name: "pool-c", Addr: hole.LocalAddr().String()})
	cfg.Active = "pool-c"
	// Far longer than the test may take: only preemption lets Redirect finish.
	cfg.RequestTimeout = time.Hour
	m := newManager(t, cfg)
	ctx := testCtx(t)

	signedIn := make(chan error, 1)
	go func() {
		_, err := m.SignIn(ctx, "alice")
		signedIn <- err
	}()
	// The REGISTER has reached the dead pool.
	hole.SetReadDeadline(time.Now().Add(wait))
	if _, _, err := hole.ReadFromUDP(make([]byte, 4096)); err != nil {
		t.Fatalf("no REGISTER reached the dead pool: %v", err)
	}

	redirected := make(chan error, 1)
	go func() { redirected <- m.Redirect(ctx, "pool-b") }()
	select {
	case err := <-redirected:
		var re *RedirectError
		if err != nil && !errors.As(err, &re) {
			t.Fatalf("Redirect: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Redirect waited behind a REGISTER to a dead pool")
	}
	select {
	case err := <-signedIn:
		// Cut short, not timed out: a REGISTER left to sipgo's transaction timer
		// would have held the move for 32 s.
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("sign-in towards the dead pool ended with %v, want it cancelled by the move", err)
		}
	case <-ctx.Done():
		t.Fatal("the sign-in towards the dead pool was not cut short")
	}
	// The gateway retries a failed sign-in: it lands at the new active pool.
	if m.User("alice") == nil {
		signIn(t, m, "alice")
	}
	if p, ok := m.User("alice").Registered(); !ok || p.Name != "pool-b" {
		t.Fatalf("alice at %s (%v), want pool-b", p.Name, ok)
	}
}
