package softphone

import (
	"testing"
	"time"
)

func TestExpiryReadsTheShapesAGatewayMightSend(t *testing.T) {
	want := time.Date(2026, 11, 27, 18, 18, 50, 0, time.UTC)
	for _, in := range []any{"2026-11-27T18:18:50Z", float64(1795803530), float64(1795803530000)} {
		if e := ExpiryOf(in); !e.Equal(want) {
			t.Errorf("%#v: %v; want %v", in, e.Time, want)
		}
	}
	for _, in := range []any{nil, "soon", map[string]any{}, true, float64(-1), float64(0)} {
		if e := ExpiryOf(in); !e.IsZero() {
			t.Errorf("%#v: %v; want unknown", in, e.Time)
		}
	}
	// What the client stores it reads back.
	at := time.Date(2026, 11, 27, 18, 18, 50, 123, time.UTC)
	if e := ExpiryOf(Expiry{at}.String()); !e.Equal(at) {
		t.Errorf("%v read back as %v", at, e.Time)
	}
	if (Expiry{}).String() != "" {
		t.Errorf("an unknown expiry is %q", Expiry{}.String())
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
	cases := []struct {
		body ErrorBody
		want string
	}{
		{ErrorBody{Text: `{"error":{"code":"unknown-user","message":"no demo user \"mallory\""}}`, ErrorMessage: `no demo user "mallory"`}, `no demo user "mallory"`},
		{ErrorBody{Text: `{"error":"demo sign-in is off"}`, Error: "demo sign-in is off"}, "demo sign-in is off"},
		{ErrorBody{Text: `{"message":"too many requests"}`, Message: "too many requests"}, "too many requests"},
		{ErrorBody{Text: "plain words\n"}, "plain words"},
		{ErrorBody{Text: "<html>oops</html>"}, "Not Found"},
		{ErrorBody{}, "Not Found"},
	}
	for _, c := range cases {
		if got := ErrorText(c.body, "Not Found"); got != c.want {
			t.Errorf("%+v: %q, want %q", c.body, got, c.want)
		}
	}
}
