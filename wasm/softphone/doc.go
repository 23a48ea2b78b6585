// Package softphone is the browser softphone's logic with no browser in it: what
// package wasm (the Go→WASM glue to the DOM, WebRTC and the websocket) decides before
// it touches the page. It builds for any GOOS and is tested with plain `go test`.
//
// Files, one concept each:
//   - calllist.go the user's calls, the focus call, the transfer plan, timers and the
//     words for a call's state and its peer
//   - controls.go the capability display: each button enabled or disabled with the
//     reason, by signaling.Allows for the phase and the focus call's state
//   - command.go  a command from a control or the API, and the API's argument checks
//   - waiter.go   when an API command is done: the call message that shows it
//   - parked.go   the live parked-calls panel's model
//   - keys.go     the keyboard shortcuts
//   - ice.go      which trickled candidates the offer did not already carry
//   - backoff.go  the reconnect delay
//   - session.go  the session token's expiry, and the words of a refused sign-in
package softphone
