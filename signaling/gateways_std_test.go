//go:build !js

package signaling

import "testing"

// GatewayWebsocket is the gateway's alone (the js build has none).
func TestGatewayURLs(t *testing.T) {
	for base, want := range map[string]string{
		"http://127.0.0.1:8080":        "ws://127.0.0.1:8080/ws",
		"https://phone.example.com/":   "wss://phone.example.com/ws",
		"https://[::1]:8443":           "wss://[::1]:8443/ws",
		"ftp://phone.example.com":      "",
		"http://phone.example.com/x":   "",
		"http://u:p@phone.example.com": "",
		"phone.example.com":            "",
	} {
		got, err := GatewayWebsocket(base)
		if want == "" {
			if err == nil {
				t.Errorf("GatewayWebsocket(%q) = %q, want an error", base, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("GatewayWebsocket(%q) = %q, %v; want %q", base, got, err, want)
		}
		if err := CheckGatewayURL(got); err != nil {
			t.Errorf("CheckGatewayURL(%q): %v", got, err)
		}
	}
}
