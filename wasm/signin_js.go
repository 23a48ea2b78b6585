package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"syscall/js"

	"github.com/parkway/parkway/wasm/softphone"
)

// storageKey names the session in sessionStorage. sessionStorage is per tab, so two tabs
// of one browser can be alice and bob; the token never goes into a URL, where it would
// end up in history, logs and Referer headers.
const storageKey = "parkway.session"

func loadSession() (softphone.Session, bool) {
	var s softphone.Session
	store := global.Get("sessionStorage")
	if !present(store) {
		return s, false
	}
	raw := store.Call("getItem", storageKey)
	if raw.Type() != js.TypeString {
		return s, false
	}
	if err := json.Unmarshal([]byte(raw.String()), &s); err != nil {
		return softphone.Session{}, false
	}
	return s, true
}

func saveSession(s softphone.Session) {
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
func signIn(ctx context.Context, user string) (softphone.Session, error) {
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
		return softphone.Session{}, fmt.Errorf("sign in: %w", err)
	}
	text, err := await(ctx, resp.Call("text"))
	if err != nil {
		return softphone.Session{}, fmt.Errorf("sign in: reading the answer: %w", err)
	}
	status := resp.Get("status").Int()
	raw := []byte(text.String())
	if status >= 400 && status < 500 {
		return softphone.Session{}, &signInError{Status: status, Message: softphone.ErrorText(raw, resp.Get("statusText").String())}
	}
	if status != 200 && status != 201 {
		return softphone.Session{}, fmt.Errorf("sign in: the gateway answered %d: %s", status, softphone.ErrorText(raw, resp.Get("statusText").String()))
	}
	var s softphone.Session
	if err := json.Unmarshal(raw, &s); err != nil {
		return softphone.Session{}, fmt.Errorf("sign in: unreadable answer: %w", err)
	}
	if s.Token == "" {
		return softphone.Session{}, errors.New("sign in: the answer has no token")
	}
	if s.User == "" {
		s.User = user
	}
	return s, nil
}
