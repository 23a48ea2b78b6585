package ua

import (
	"errors"
	"strings"
	"testing"

	"github.com/parkway/parkway/internal/usersfile"
	"github.com/parkway/parkway/pool"
)

// hashedPools starts the pool pair with every user stored as an HA1 for realm
// "parkway" (one realm for both pools, so one hash serves both), and returns the
// gateway's secrets: the same HA1s, never a password.
func hashedPools(t *testing.T) (pools, Secrets) {
	t.Helper()
	var users []pool.User
	secrets := Secrets{}
	for _, u := range demoUsers {
		ha1 := usersfile.HA1(u.Name, "parkway", u.Password)
		users = append(users, pool.User{Name: u.Name, HA1: ha1})
		secrets[u.Name] = Secret{HA1: ha1, Realm: "parkway"}
	}
	ps := startPoolsWith(t, users, pool.Options{}, func(a, b *pool.Config) { a.Realm, b.Realm = "parkway", "parkway" })
	return ps, secrets
}

// Digest auth with HA1 hashes on both sides: the pools check REGISTER (401) and INVITE
// (407) answers against the stored HA1, and the gateway computes them from its HA1;
// no password is known to either. A call goes through, and a redirect to pool-b signs
// everyone in there with the same hashes.
func TestHA1OnBothSides(t *testing.T) {
	checkNoLeaks(t)
	ps, secrets := hashedPools(t)
	cfg := ps.config(demoUsers)
	cfg.Credentials = secrets
	m := newManager(t, cfg)
	_, _, ac, _, _, _ := callPair(t, m)
	if err := m.Redirect(testCtx(t), "pool-b"); err != nil {
		t.Fatalf("redirect with HA1 credentials: %v", err)
	}
	if err := ac.Hangup(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

// A wrong HA1 is refused like a wrong password (403); an HA1 made for another realm
// is not even sent: the gateway says which realm it has and which the pool offers.
func TestHA1Refused(t *testing.T) {
	checkNoLeaks(t)
	ps, secrets := hashedPools(t)
	cfg := ps.config(demoUsers)
	secrets["alice"] = Secret{HA1: usersfile.HA1("alice", "parkway", "not-her-password"), Realm: "parkway"}
	secrets["bob"] = Secret{HA1: usersfile.HA1("bob", "elsewhere", "bob-pw"), Realm: "elsewhere"}
	cfg.Credentials = secrets
	m := newManager(t, cfg)
	_, err := m.SignIn(testCtx(t), "alice")
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 403 {
		t.Fatalf("SignIn with a wrong HA1: %v, want 403", err)
	}
	_, err = m.SignIn(testCtx(t), "bob")
	if !errors.Is(err, ErrChallengeUnanswerable) || !strings.Contains(err.Error(), `realm "elsewhere"`) || !strings.Contains(err.Error(), `realm "parkway"`) {
		t.Fatalf("SignIn with an HA1 of another realm: %v, want ErrChallengeUnanswerable naming both realms", err)
	}
	if m.User("alice") != nil || m.User("bob") != nil {
		t.Fatal("failed sign-in left a user behind")
	}
}
