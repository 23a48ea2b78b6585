package pool

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parkway/parkway/internal/usersfile"
)

// usersFile: the gateway's users file, read by the pool; hashed entries must be for the
// pool's realm, and a pool with hashed users challenges with MD5 alone (the only
// algorithm an MD5 HA1 can check).
func TestParseConfigUsersFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("users.yaml", "alice: alice-pw\n"+usersfile.Line("bob", "parkway", "bob-pw")+"\n")
	write("other-realm.yaml", usersfile.Line("bob", "pool-a", "bob-pw")+"\n")
	base := "name: pool-a\nlisten: 127.0.0.1:0\npark: {orbits: [\"7000-7099\"]}\n"
	cfg, err := ParseConfig([]byte(base+"realm: parkway\nusersFile: users.yaml\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []User{{Name: "alice", Password: "alice-pw"}, {Name: "bob", HA1: usersfile.HA1("bob", "parkway", "bob-pw")}}
	if !slices.Equal(cfg.Users, want) {
		t.Fatalf("users %+v, want %+v", cfg.Users, want)
	}
	p, err := New(cfg, Options{Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if p.Realm() != "parkway" || !slices.Equal(p.cfg.DigestAlgorithms, []string{"MD5"}) {
		t.Errorf("realm %q, algorithms %v; want parkway, [MD5]", p.Realm(), p.cfg.DigestAlgorithms)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"usersFile: other-realm.yaml\n", `ha1 is for realm "pool-a", this pool's realm is "parkway"`},
		{"usersFile: users.yaml\nusers: [{name: carol, password: c}]\n", "not both"},
		{"usersFile: users.yaml\ndigestAlgorithms: [SHA-256, MD5]\n", "list MD5 alone"},
		{"users: [{name: carol, ha1: abc}]\n", "32 hex digits"},
		{"users: [{name: carol, password: c, ha1: " + usersfile.HA1("carol", "parkway", "c") + "}]\n", "not both"},
		{"usersFile: missing.yaml\n", "missing.yaml"},
	} {
		_, err := ParseConfig([]byte(base+"realm: parkway\n"+tc.yaml), dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error with %q", tc.yaml, err, tc.want)
		}
	}
}
