//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"syscall/js"
	"time"
)

// session is what the gateway issues in exchange for a demo user name: a signed, expiring
// token that the websocket's first frame presents.
type session struct {
	Token     string `json:"token"`
	User      string `json:"user"`
	ExpiresAt expiry `json:"expiresAt"`
}

// expiry is the token's expiry as the gateway sends it: an RFC 3339 time, or Unix time
// in seconds or milliseconds. Anything else reads as "unknown", never as a failed
// sign-in: the gateway is the one that enforces expiry.
type expiry struct{ time.Time }

func (e *expiry) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		e.Time, _ = time.Parse(time.RFC3339Nano, s)
		return nil
	}
	var n float64
	if json.Unmarshal(b, &n) == nil && n > 0 {
		if n < 1e12 {
			e.Time = time.Unix(int64(n), 0)
		} else {
			e.Time = time.UnixMilli(int64(n))
		}
	}
	return nil
}

func (e expiry) MarshalJSON() ([]byte, error) {
	if e.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(e.Time.Format(time.RFC3339Nano))
}

// storageKey names the session in sessionStorage. sessionStorage is per tab, so two tabs
// of one browser can be alice and bob; the token never goes into a URL, where it would
// end up in history, logs and Referer headers.
const storageKey = "parkway.session"

// expiringSoon is how close to its expiry a stored token is no longer worth presenting:
// a reconnect with it would be refused a moment later.
const expiringSoon = 30 * time.Second

// usable reports whether s can still be presented at now.
func (s session) usable(now time.Time) bool {
	if s.Token == "" {
		return false
	}
	return s.ExpiresAt.IsZero() || now.Add(expiringSoon).Before(s.ExpiresAt.Time)
}

func loadSession() (session, bool) {
	var s session
	store := global.Get("sessionStorage")
	if !present(store) {
		return s, false
	}
	raw := store.Call("getItem", storageKey)
	if raw.Type() != js.TypeString {
		return s, false
	}
	if err := json.Unmarshal([]byte(raw.String()), &s); err != nil {
		return session{}, false
	}
	return s, true
}

func saveSession(s session) {
	b, err := json.Marshal(s)
	if err != nil {
		return
	}
	if store := global.Get("sessionStorage"); present(store) {
		store.Call("setItem", storageKey, string(b))
	}
}

func forgetSession() {
	if store := global.Get("sessionStorage"); present(store) {
		store.Call("removeItem", storageKey)
	}
}

// requestedUser is the demo sign-in name from /?user=NAME, or "" when there is none.
func requestedUser() string {
	u, err := url.Parse(global.Get("location").Get("href").String())
	if err != nil {
		return ""
	}
	return strings.TrimSpace(u.Query().Get("user"))
}

// signInError is a sign-in the gateway refused (an unknown user, demo mode off): asking
// again with the same name will not help, so the client stops and asks the user.
type signInError struct {
	Status  int
	Message string
}

func (e *signInError) Error() string {
	return fmt.Sprintf("sign-in refused (%d): %s", e.Status, e.Message)
}

// signIn exchanges a demo user name for a session token (POST /api/session). Network
// failures and 5xx answers are plain errors, worth retrying; a 4xx is a *signInError.
func signIn(ctx context.Context, user string) (session, error) {
	body, _ := json.Marshal(map[string]string{"user": user})
	opts := map[string]any{
		"method":      "POST",
		"headers":     map[string]any{"Content-Type": "application/json", "Accept": "application/json"},
		"body":        string(body),
		"credentials": "same-origin",
		"cache":       "no-store",
	}
	resp, err := await(ctx, global.Call("fetch", "/api/session", opts))
	if err != nil {
		return session{}, fmt.Errorf("sign in: %w", err)
	}
	text, err := await(ctx, resp.Call("text"))
	if err != nil {
		return session{}, fmt.Errorf("sign in: reading the answer: %w", err)
	}
	status := resp.Get("status").Int()
	raw := []byte(text.String())
	if status >= 400 && status < 500 {
		return session{}, &signInError{Status: status, Message: errorText(raw, resp.Get("statusText").String())}
	}
	if status != 200 && status != 201 {
		return session{}, fmt.Errorf("sign in: the gateway answered %d: %s", status, errorText(raw, resp.Get("statusText").String()))
	}
	var s session
	if err := json.Unmarshal(raw, &s); err != nil {
		return session{}, fmt.Errorf("sign in: unreadable answer: %w", err)
	}
	if s.Token == "" {
		return session{}, errors.New("sign in: the answer has no token")
	}
	if s.User == "" {
		s.User = user
	}
	return s, nil
}

// errorText pulls a human sentence out of an HTTP error body, whichever of the usual
// shapes it has: {"message"}, {"error":"..."} or {"error":{"message"}}; else the status.
func errorText(body []byte, fallback string) string {
	var shapes struct {
		Message string          `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &shapes) == nil {
		if shapes.Message != "" {
			return shapes.Message
		}
		var s string
		if json.Unmarshal(shapes.Error, &s) == nil && s != "" {
			return s
		}
		var inner struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(shapes.Error, &inner) == nil && inner.Message != "" {
			return inner.Message
		}
	}
	if t := strings.TrimSpace(string(body)); t != "" && len(t) < 200 && !strings.HasPrefix(t, "<") {
		return t
	}
	return fallback
}
