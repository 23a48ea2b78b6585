package main

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"syscall/js"

	"github.com/parkway/parkway/wasm/softphone"
)

// storageKey names the session in sessionStorage. sessionStorage is per tab, so two tabs
// of one browser can be alice and bob; the token never goes into a URL, where it would
// end up in history, logs and Referer headers.
const storageKey = "parkway.session"

func loadSession() (softphone.Session, bool) {
	store := global.Get("sessionStorage")
	if !present(store) {
		return softphone.Session{}, false
	}
	raw := store.Call("getItem", storageKey)
	if raw.Type() != js.TypeString {
		return softphone.Session{}, false
	}
	v, ok := parseJSON(raw.String())
	if !ok {
		return softphone.Session{}, false
	}
	return sessionFrom(v), true
}

func saveSession(s softphone.Session) {
	o := global.Get("Object").New()
	o.Set("token", s.Token)
	o.Set("user", s.User)
	if e := s.ExpiresAt.String(); e != "" {
		o.Set("expiresAt", e)
	} else {
		o.Set("expiresAt", js.Null())
	}
	if store := global.Get("sessionStorage"); present(store) {
		store.Call("setItem", storageKey, global.Get("JSON").Call("stringify", o))
	}
}

func forgetSession() {
	if store := global.Get("sessionStorage"); present(store) {
		store.Call("removeItem", storageKey)
	}
}

// sessionFrom reads a session ({token, user, expiresAt}) from a parsed JSON value: the
// gateway's sign-in answer or what saveSession stored.
func sessionFrom(v js.Value) softphone.Session {
	return softphone.Session{Token: jsonString(v, "token"), User: jsonString(v, "user"), ExpiresAt: softphone.ExpiryOf(jsonScalar(v, "expiresAt"))}
}

// parseJSON parses text with the page's JSON.parse (the client carries no JSON parser
// of its own beyond the protocol's, issue 12); false when it is not JSON.
func parseJSON(text string) (v js.Value, ok bool) {
	defer func() {
		if recover() != nil {
			v, ok = js.Undefined(), false
		}
	}()
	return global.Get("JSON").Call("parse", text), true
}

// jsonScalar is v[name] as Go: a string, a float64, a bool, or nil (absent, null, an
// object, an array, or v not an object).
func jsonScalar(v js.Value, name string) any {
	if v.Type() != js.TypeObject {
		return nil
	}
	switch x := v.Get(name); x.Type() {
	case js.TypeString:
		return x.String()
	case js.TypeNumber:
		return x.Float()
	case js.TypeBoolean:
		return x.Bool()
	}
	return nil
}

// jsonString is v[name] when it is a string, else "".
func jsonString(v js.Value, name string) string {
	s, _ := jsonScalar(v, name).(string)
	return s
}

// errorBody reads an HTTP error body for softphone.ErrorText.
func errorBody(text string) softphone.ErrorBody {
	b := softphone.ErrorBody{Text: text}
	if v, ok := parseJSON(text); ok && v.Type() == js.TypeObject {
		b.Message = jsonString(v, "message")
		b.Error = jsonString(v, "error")
		if inner := v.Get("error"); inner.Type() == js.TypeObject {
			b.ErrorMessage = jsonString(inner, "message")
		}
	}
	return b
}

// requestedUser is the demo sign-in name from /?user=NAME, or "" when there is none.
func requestedUser() (user string) {
	defer func() {
		if recover() != nil {
			user = ""
		}
	}()
	u := global.Get("URL").New(global.Get("location").Get("href"))
	v := u.Get("searchParams").Call("get", "user")
	if v.Type() != js.TypeString {
		return ""
	}
	return strings.TrimSpace(v.String())
}

// signInError is a sign-in the gateway refused (an unknown user, demo mode off): asking
// again with the same name will not help, so the client stops and asks the user.
type signInError struct {
	Status  int
	Message string
}

func (e *signInError) Error() string {
	return "sign-in refused (" + strconv.Itoa(e.Status) + "): " + e.Message
}

// signIn exchanges a demo user name for a session token (POST /api/session). Network
// failures and 5xx answers are plain errors, worth retrying; a 4xx is a *signInError.
// started, when not undefined, is that request already made (takeEarlySignIn): its
// answer is read instead of asking again.
func signIn(ctx context.Context, user string, started js.Value) (softphone.Session, error) {
	if started.IsUndefined() {
		body := global.Get("JSON").Call("stringify", js.ValueOf(map[string]any{"user": user})).String()
		opts := map[string]any{
			"method":      "POST",
			"headers":     map[string]any{"Content-Type": "application/json", "Accept": "application/json"},
			"body":        body,
			"credentials": "same-origin",
			"cache":       "no-store",
		}
		started = global.Call("fetch", "/api/session", opts)
	}
	resp, err := await(ctx, started)
	if err != nil {
		return softphone.Session{}, wrap("sign in", err)
	}
	text, err := await(ctx, resp.Call("text"))
	if err != nil {
		return softphone.Session{}, wrap("sign in: reading the answer", err)
	}
	status := resp.Get("status").Int()
	raw := text.String()
	if status >= 400 && status < 500 {
		return softphone.Session{}, &signInError{Status: status, Message: softphone.ErrorText(errorBody(raw), resp.Get("statusText").String())}
	}
	if status != 200 && status != 201 {
		return softphone.Session{}, errors.New("sign in: the gateway answered " + strconv.Itoa(status) + ": " + softphone.ErrorText(errorBody(raw), resp.Get("statusText").String()))
	}
	v, ok := parseJSON(raw)
	if !ok || v.Type() != js.TypeObject {
		return softphone.Session{}, errors.New("sign in: unreadable answer")
	}
	s := sessionFrom(v)
	if s.Token == "" {
		return softphone.Session{}, errors.New("sign in: the answer has no token")
	}
	if s.User == "" {
		s.User = user
	}
	return s, nil
}

// takeEarlySignIn returns the demo sign-in boot.js started while main.wasm compiled
// (window.parkwayEarlySignIn = {user, response}: the fetch's promise), when it was for
// user; else undefined. It is taken once, on the client's first session: later calls,
// and a token renewal (reauth_js.go), ask afresh.
func takeEarlySignIn(user string) js.Value {
	early := global.Get("parkwayEarlySignIn")
	if !present(early) {
		return js.Undefined()
	}
	global.Delete("parkwayEarlySignIn")
	if user == "" || early.Get("user").Type() != js.TypeString || early.Get("user").String() != user {
		return js.Undefined()
	}
	return early.Get("response")
}
