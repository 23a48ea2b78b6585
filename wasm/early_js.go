package main

import (
	"context"
	"syscall/js"
)

// The start-up script static/early.js begins the link to the gateway while main.wasm
// downloads and compiles (issue 12): the sign-in for /?user=NAME when the tab holds no
// session, and the websocket, on which it sends the auth frame. The client takes them
// over on its first attempt (takeEarlySignIn in signIn, dialEarly in serve); when the
// script did not run, its request was for someone else or its socket authenticated
// with another token, the client does what it always does.

// earlySocket is what happened to the start-up script's socket before the client took
// it over.
type earlySocket struct {
	frames   [][]byte    // received, in order
	closed   *closeError // how it closed, or nil
	opened   bool        // it did open (a close since is the link's end, not a failed dial)
	authSent bool        // the auth frame with the session's token went out
}

func early() js.Value {
	e := global.Get("parkwayEarly")
	if e.Type() != js.TypeObject {
		return js.Undefined()
	}
	return e
}

// takeEarlySignIn returns the start-up script's sign-in request for user (a promise of
// its Response), once, or undefined.
func takeEarlySignIn(user string) js.Value {
	e := early()
	if e.IsUndefined() {
		return e
	}
	p := e.Call("takeSignIn", user)
	if p.Type() != js.TypeObject {
		return js.Undefined()
	}
	return p
}

// dialEarly takes over the start-up script's websocket for a session with token and
// returns once it is open; authSent says whether the auth frame already went out. A nil
// socket and error: there is none to take (the caller dials).
func dialEarly(ctx context.Context, token string) (ws *socket, authSent bool, err error) {
	e := early()
	if e.IsUndefined() {
		return nil, false, nil
	}
	got := e.Call("adopt", token)
	if got.Type() != js.TypeObject {
		return nil, false, nil
	}
	st := &earlySocket{opened: got.Get("opened").Bool(), authSent: got.Get("authSent").Bool()}
	frames := got.Get("frames")
	for i := range frames.Length() {
		st.frames = append(st.frames, frameBytes(frames.Index(i)))
	}
	if c := got.Get("closed"); c.Type() == js.TypeObject {
		code := c.Get("code").Int()
		if code == 0 {
			code = closeAbnormal
		}
		st.closed = &closeError{Code: code, Reason: c.Get("reason").String()}
	}
	ws, err = openSocket(ctx, got.Get("ws"), st)
	if err != nil {
		return nil, false, err
	}
	mark("parkway-ws-early")
	return ws, st.authSent, nil
}
