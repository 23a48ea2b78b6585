//go:build js && wasm

package main

// Run with Node as the js/wasm host:
//
//	PATH="$PATH:$(go env GOROOT)/lib/wasm" GOOS=js GOARCH=wasm go test ./wasm

import (
	"encoding/json"
	"testing"
	"time"
)

func TestBackoffGrowsToTheCapWithJitter(t *testing.T) {
	low := func() float64 { return 0 }
	high := func() float64 { return 0.999999 }
	wantFull := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, full := range wantFull {
		n := i + 1
		if got := backoff(n, low); got != full/2 {
			t.Errorf("attempt %d, no jitter: %v, want %v", n, got, full/2)
		}
		if got := backoff(n, high); got < full*99/100 || got > full {
			t.Errorf("attempt %d, most jitter: %v, want about %v", n, got, full)
		}
	}
	for _, n := range []int{0, -3, 64, 1 << 30} {
		if got := backoff(n, high); got <= 0 || got > backoffMax {
			t.Errorf("attempt %d: %v out of (0, %v]", n, got, backoffMax)
		}
	}
}

func TestExpiryReadsTheShapesAGatewayMightSend(t *testing.T) {
	want := time.Date(2026, 11, 27, 18, 18, 50, 0, time.UTC)
	for _, in := range []string{`"2026-11-27T18:18:50Z"`, `1795803530`, `1795803530000`} {
		var e expiry
		if err := json.Unmarshal([]byte(in), &e); err != nil || !e.Equal(want) {
			t.Errorf("%s: %v, %v; want %v", in, e.Time, err, want)
		}
	}
	for _, in := range []string{`null`, `"soon"`, `{}`, `true`} {
		var e expiry
		if err := json.Unmarshal([]byte(in), &e); err != nil || !e.IsZero() {
			t.Errorf("%s: %v, %v; want unknown, no error", in, e.Time, err)
		}
	}
}

func TestSessionUsable(t *testing.T) {
	now := time.Now()
	cases := []struct {
		s    session
		want bool
	}{
		{session{}, false},
		{session{Token: "t"}, true}, // no expiry known: let the gateway decide
		{session{Token: "t", ExpiresAt: expiry{now.Add(time.Hour)}}, true},
		{session{Token: "t", ExpiresAt: expiry{now.Add(10 * time.Second)}}, false},
		{session{Token: "t", ExpiresAt: expiry{now.Add(-time.Hour)}}, false},
	}
	for i, c := range cases {
		if got := c.s.usable(now); got != c.want {
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
		if got := errorText([]byte(body), "Not Found"); got != want {
			t.Errorf("%q: %q, want %q", body, got, want)
		}
	}
}
