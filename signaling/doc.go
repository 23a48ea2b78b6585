// Package signaling is the contract between the Parkway softphone (Go compiled to
// WebAssembly) and the edge gateway: the JSON messages they exchange over the websocket,
// the disaster-recovery phases, the call states, and the capability rule that says which
// call control a user may use in which phase.
//
// It is pure Go with no I/O, so the same code decides in the browser (to enable a button)
// and in the gateway (to refuse an action): the UI can never offer what the gateway
// refuses.
//
// Entry points:
//   - [Decode] turns one websocket frame into a typed [Message], or a typed error
//     ([*Error]) that the gateway sends back as a JSON error frame.
//   - [Encode] wraps a [Message] in the versioned [Envelope].
//
// The gateway reads and writes the JSON with encoding/json (envelope_std.go); the
// wasm client with a codec of its own (codec.go, envelope_js.go), which keeps
// encoding/json, reflect and fmt out of main.wasm (issue 12). codec_test.go holds the
// two to the same bytes out and the same messages and errors in (a differential test
// and a fuzz target in every `go test` of the package), so the wire is one contract.
// The package uses no fmt and, in the js build, no net/url (CheckGatewayURL checks a
// welcome's gateway URLs with plainWebsocketURL there).
//   - [Reauth] is the gateway asking for a fresh token before the session's expires; the
//     client answers with [Auth] (ARCHITECTURE.md §7).
//   - [ActionMedia] (issue 10) gives an existing call this tab's audio: a new
//     PeerConnection's offer after a reload or for "Move here", or an ICE
//     restart; [Call].Media tells each tab where a call's audio is
//     ([MediaHere], [MediaElsewhere], [MediaNeeded]) and [Welcome].NeedsMedia
//     lists the calls a tab that just connected should take back. A call no
//     tab takes in time ends with [ReasonBrowserGone].
//   - [CapabilitiesFor] is the capability rule: ARCHITECTURE.md §2's table, made from the seed
//     ("Call Park experience in Lync Server 2013 during pool failure").
//
// Operations (issue 14): every [Call] message carries the call's trace id in "trace"
// ([ValidTrace]), the id the gateway, the pools and the park service log the call
// under and send in the SIP header X-Parkway-Trace. A gateway that is shutting down
// sends [Draining] ({"type":"draining","deadlineMs":N}), refuses call and retrieve with
// the error code "draining" ([CodeDraining]) and, once its calls are over or N ms have
// passed, closes the websocket with 1012 (service restart); the client reconnects with
// backoff, as after any close.
package signaling
