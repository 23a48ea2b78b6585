//go:build js && wasm

// Command wasm is the Parkway softphone: Go compiled to WebAssembly that owns the page's
// DOM through syscall/js. It signs in (demo mode: /?user=NAME is exchanged for a session
// token kept in sessionStorage), holds one websocket to the gateway, and renders what the
// gateway pushes: the pool phase and, for every call control, whether it is allowed and
// why not.
//
// The client never decides what is allowed. Each button's disabled state is the
// capability the gateway computed for this session (signaling.Capabilities) — the same rule
// the gateway enforces — so the page cannot offer what the gateway would refuse, and a
// refusal that still happens is shown as the gateway worded it.
//
// The page's markup is the template: the client binds to data-part and data-action
// attributes rather than to a fixed layout, so a compact page (the embeddable widget) can
// reuse this binary with its own HTML.
//
// Files, one concept each:
//   - main.go     start-up and the single loop that owns the view
//   - dom.go      the few syscall/js helpers, with listeners that release their js.Func
//   - promise.go  waiting on a JavaScript promise from a goroutine
//   - signin.go   demo sign-in and the per-tab session token
//   - conn.go     the websocket: auth, heartbeat, reconnect with backoff
//   - backoff.go  the reconnect delay
//   - view.go     rendering state, connection, errors and calls into the page
//   - actions.go  turning a button press into a request
//   - webrtc.go   one RTCPeerConnection per call (microphone in, <audio> out), the
//     complete offer on Call and Answer; window.__parkwayPCs is a test hook
//   - calllist.go the user's calls as pushed, the focus call, the call list
package main
