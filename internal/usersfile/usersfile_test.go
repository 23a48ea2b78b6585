package usersfile

import (
	"strings"
	"testing"
)

// RFC 2617 §3.5's example: user Mufasa, realm testrealm@host.com, password "Circle Of
// Life" has this HA1 (the A1 hash its response computation starts from).
func TestHA1MatchesRFC2617(t *testing.T) {
	if got, want := HA1("Mufasa", "testrealm@host.com", "Circle Of Life"), "939e7578ed9e3c518a452acee763bce9"; got != want {
		t.Fatalf("HA1 = %s, want %s", got, want)
	}
}

func TestParseBothForms(t *testing.T) {
	line := Line("bob", "parkway", "bob-secret")
	m, err := Parse([]byte("alice: alice-demo\n" + line + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m["alice"] != (Entry{Password: "alice-demo"}) {
		t.Errorf("alice = %+v", m["alice"])
	}
	if b := m["bob"]; !b.Hashed() || b.Realm != "parkway" || b.HA1 != HA1("bob", "parkway", "bob-secret") {
		t.Errorf("bob = %+v", b)
	}
}

func TestParseRefusesBadEntries(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"", "is empty"},
		{"{}", "names no users"},
		{"alice: ''", `user "alice": password must not be empty`},
		{"alice: {ha1: 939e7578ed9e3c518a452acee763bce9}", "realm is required"},
		{"alice: {realm: r, ha1: xyz}", "32 hex digits"},
		{"alice: {realm: r, ha1: 939e7578ed9e3c518a452acee763bce9, password: p}", "unknown key"},
		{"alice: [a]", "want a password"},
		{"alice: a\nalice: b", "already defined"},
	} {
		_, err := Parse([]byte(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", tc.file, err, tc.want)
		}
	}
}
