package main

import "syscall/js"

// The websocket boot.js opens while main.wasm downloads and compiles (issue 12), so that
// its connection and upgrade are done when the program starts. boot.js leaves it as
// window.parkwayEarlySocket = {ws, heard, release}: heard says the socket closed or the
// gateway said something on it (before auth, only a refusal or a goodbye), release
// removes boot.js's listeners. Nothing was sent on it: the program signs in on it with
// its auth message as on a socket it dialed itself, so the gateway's heartbeat starts
// only once the program can answer it.

// takeEarlySocket returns boot.js's socket if it was opened to url and is still of use
// (connecting or open, nothing heard), once: later calls find none. A socket that is
// not of use is closed; ok is false then, and when there was none.
func takeEarlySocket(url string) (ws js.Value, ok bool) {
	early := global.Get("parkwayEarlySocket")
	if !present(early) {
		return js.Undefined(), false
	}
	global.Delete("parkwayEarlySocket")
	if release := early.Get("release"); release.Type() == js.TypeFunction {
		release.Invoke()
	}
	ws = early.Get("ws")
	if !present(ws) {
		return js.Undefined(), false
	}
	state := ws.Get("readyState").Int()
	if state != wsConnecting && state != wsOpen {
		return js.Undefined(), false
	}
	if early.Get("heard").Truthy() || ws.Get("url").String() != url {
		(&socket{ws: ws}).Close(closeNormal, "not needed")
		return js.Undefined(), false
	}
	return ws, true
}

// closeEarlySocket closes boot.js's socket, if the program has not taken it: the page
// has nobody to sign in as, and the gateway would only time it out.
func closeEarlySocket() {
	takeEarlySocket("")
}
