//go:build js

package signaling

// CheckGatewayURL accepts a gateway's websocket URL as Welcome.Gateways lists it:
// ws:// or wss://, a host, the path /ws, nothing else. The wasm client checks with
// plainWebsocketURL, which needs no net/url (issue 12); the gateway's build uses
// net/url (gateways_std.go).
func CheckGatewayURL(s string) error { return plainWebsocketURL(s) }
