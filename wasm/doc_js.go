// Command wasm is the Parkway softphone: Go compiled to WebAssembly that owns the page's
// DOM through syscall/js. It signs in (demo mode: /?user=NAME is exchanged for a session
// token kept in sessionStorage), holds one websocket to the gateway, places and answers
// calls with a WebRTC PeerConnection each, and renders what the gateway pushes: the pool
// phase, the user's calls and the parked-calls list.
//
// The client enables each control by signaling.Allows for the phase and the state of
// the call in focus — the same Go code the gateway checks every request with, for the
// call the request names — so the page never offers what the gateway would refuse. The
// capabilities the gateway pushes are computed for its newest call; the user's focus
// may be another (call waiting, an attended transfer), which is why the page computes
// its own. A refusal that still happens is shown as the gateway worded it.
//
// The page's markup is the template: the client binds to data-part and data-action
// attributes rather than to a fixed layout. The embeddable widget is the same page in a
// compact layout (widget.html is index.html with class="compact" on <html>; the CSS
// does the rest), and any other page with these hooks could run this binary. Only the
// status region and the ten action buttons are required; every other part is optional. The hooks (tests rely on them):
//
//	[data-part="calls"] > li.call[data-call-id][data-call-state][data-direction][data-muted]
//	    ([data-orbit] once parked; aria-current="true" on the focus call; [data-media]
//	    here|elsewhere|needed: where its audio is), with
//	    [data-part="call-peer"], [data-part="call-state"], [data-part="call-timer"] (m:ss)
//	    inside button[data-part="call-select"], which makes it the focus, and
//	    button[data-part="call-move"] "Move here", shown while the call is on another tab or none
//	window.__parkwayICERestarts   how many ICE restarts this page began
//	[data-part="parked"] > li[data-orbit][data-seconds-left] with [data-part="parked-peer"],
//	    [data-part="parked-by"], [data-part="parked-left"], button[data-part="parked-retrieve"],
//	    li[data-pool] and [data-part="parked-on"] (shown when calls are not all on the active pool);
//	    [data-part="parked-pool"] is the panel's heading, naming the pool
//	[data-part="keypad"] button[data-digit], [data-part="keypad-sent"]
//	[data-part="park-notice"]     "Parked bob on orbit 7012"
//	[data-part="transfer-mode"]   what Transfer will do (blind, or attended: which two calls)
//	button[data-action="mute"][aria-pressed]
//	html[data-ringing="true"]     while an incoming call rings (the WebAudio ring plays)
//	window.__parkwayPCs           the live RTCPeerConnections, for getStats in tests
//	window.parkway                the JavaScript API (api_js.go)
//
// WebRTC is the browser's RTCPeerConnection through syscall/js (webrtc_js.go): the
// microphone goes into the audio transceiver with replaceTrack, remote audio is taken
// from the connection's track event, and local ICE candidates are sent as its
// icecandidate event gives them. No Go WebRTC library is compiled in: pion's js build
// wrapped the same object and cost a third of main.wasm. Promise waits (await) take a
// context and run only on goroutines of their own.
//
// What the client leaves out to stay small (issue 12): encoding/json, fmt and net/url,
// and with them reflect. The protocol's JSON is signaling's own codec; any other JSON
// (the sign-in answer, the stored session, the page API's arguments and events) goes
// through the page's JSON.parse and JSON.stringify; sentences are built with strconv.
// `GOOS=js GOARCH=wasm go list -deps ./wasm` shows none of the four.
//
// A websocket drop keeps the calls and their PeerConnections: media does not pass
// through the websocket. On reconnect the gateway's welcome lists the calls it still
// carries, each of which it then resends; the calls it did not list are ended here at
// once and their media closed — no timer, so a page stalled under load ends nothing
// that is live. A call the gateway marks as needing media (its tab reloaded) is
// re-attached with a new connection, and a connection whose ICE goes down is restarted
// (reattach_js.go).
//
// The softphone's logic — the call list and the focus call, the transfer plan, the
// commands and the API's argument checks, the capability display (which button is
// enabled, and why not), the parked-list model, the reconnect backoff, the session
// token's expiry, the keyboard shortcuts, timers and wording — is package
// wasm/softphone, which has no build tags and is tested with plain `go test`. This
// package is the glue to the browser; its files end in _js.go, which limits them to
// GOOS=js (the habit of github.com/coder/websocket), one concept each:
//   - main_js.go     start-up and the single loop that owns the view; reconnect reconciliation
//   - dom_js.go      the few syscall/js helpers, with listeners that release their js.Func,
//     and keyed lists rendered in place
//   - promise_js.go  waiting on a JavaScript promise from a goroutine
//   - signin_js.go   demo sign-in (taking the one boot.js started while main.wasm
//     compiled) and the per-tab session token's storage
//   - conn_js.go     the websocket: auth, heartbeat, reconnect with backoff
//   - socket_js.go   the browser's WebSocket behind a blocking Go API (no Go websocket
//     library: it would bring net/http and TLS the browser already has), taking the
//     socket boot.js opened while main.wasm compiled
//   - view_js.go     binding the page's parts; rendering state, connection, errors
//   - actions_js.go  carrying a command out: the call it is about, the capability rule,
//     the request; the buttons' state; the keypad
//   - webrtc_js.go   one PeerConnection per call (microphone in, <audio> out), trickle ICE,
//     mute, DTMF
//   - callview_js.go rendering the call list in place
//   - parkedview_js.go rendering the live parked-calls panel
//   - api_js.go      window.parkway.command and the "parkway" events
//   - keys_js.go     listening for the keyboard shortcuts
//   - ring_js.go     the ring of an incoming call (WebAudio)
package main
