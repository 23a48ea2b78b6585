//go:build !js

package signaling

import (
	"fmt"
	"net/url"
	"strings"
)

// CheckGatewayURL accepts a gateway's websocket URL as Welcome.Gateways lists it:
// ws:// or wss://, a host, the path /ws, nothing else (no user info, query or
// fragment). The js build checks without net/url, a little more strictly
// (gateways_js.go).
func CheckGatewayURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL", s)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return fmt.Errorf("%q: the scheme must be ws or wss", s)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Path != "/ws" {
		return fmt.Errorf("%q: want ws[s]://host[:port]/ws and nothing more", s)
	}
	return nil
}

// GatewayWebsocket turns a gateway's base URL (http[s]://host[:port], as configured)
// into its websocket URL (ws[s]://host[:port]/ws). Only the gateway needs it: the js
// build has none.
func GatewayWebsocket(base string) (string, error) {
	u, err := url.Parse(strings.TrimSuffix(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: want http[s]://host[:port]", base)
	}
	scheme := "ws"
	if u.Scheme == "https" {
		scheme = "wss"
	}
	return scheme + "://" + u.Host + "/ws", nil
}
