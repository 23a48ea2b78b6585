package softphone

import (
	"encoding/json"
	"testing"
	"time"
)

func TestExpiryReadsTheShapesAGatewayMightSend(t *testing.T) {
	want := time.Date(2026, 11, 27, 18, 18, 50, 0, time.UTC)
	for _, in := range []string{`"2026-11-27T18:18:50Z"`, `1795803530`, `1795803530000`} {
		var e Expiry
		if err := json.Unmarshal([]byte(in), &e); err != nil || !e.Equal(want) {
			t.Errorf("%s: %v, %v; want %v", in, e.Time, err, want)
		}
	}
	for _, in := range []string{`null`, `"soon"`, `{}`, `true`} {
		var e Expiry
		if err := json.Unmarshal([]byte(in), &e); err != nil || !e.IsZero() {
			t.Errorf("%s: %v, %v; want unknown, no error", in, e.Time, err)
		}
	}
}

func TestSessionUsable(t *testing.T) {
	now := time.Now()
	cases := []struct {
		s    Session
		want bool
	}{
		{Session{}, false},
		{Session{Token: "t"}, true}, // no expiry known: let the gateway decide
		{Session{Token: "t", ExpiresAt: Expiry{now.Add(time.Hour)}}, true},
		{Session{Token: "t", ExpiresAt: Expiry{now.Add(10 * time.Second)}}, false},
		{Session{Token: "t", ExpiresAt: Expiry{now.Add(-time.Hour)}}, false},
	}
	for i, c := range cases {
		if got := c.s.Usable(now); got != c.want {
			t.Errorf("case %d: usable=%v, want %v", i, got, c.want)
		}
	}
}

func TestErrorTextFindsTheSentence(t *testing.T) {
	cases := map[string]string{
		`{"error":{"code":"unknown-user","message":"no demo user \"mallory\""}}`: `no demo user "mallory"`,
		`{"error":"demo sign-in is off"}`:                                        "demo sign-in is off",
		`{"message":"too many requests"}`:                                        "too many requests",
		"plain words\n":                                                          "plain words",
		"<html>oops</html>":                                                      "Not Found",
		"":                                                                       "Not Found",
	}
	for body, want := range cases {
		if got := ErrorText([]byte(body), "Not Found"); got != want {
			t.Errorf("%q: %q, want %q", body, got, want)
		}
	}
}
