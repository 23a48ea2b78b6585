package signaling

import (
	"errors"
	"strings"
	"testing"
)

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
	for _, bad := range []string{"http://a/ws", "ws://a/", "ws://a/ws?x=1", "wss://a/ws#f", "ws:///ws", "javascript:alert(1)"} {
		if CheckGatewayURL(bad) == nil {
			t.Errorf("CheckGatewayURL(%q) accepted", bad)
		}
	}
}

// A welcome's gateway list is checked like every field the gateway sends.
func TestWelcomeGateways(t *testing.T) {
	ok := `{"v":1,"type":"welcome","data":{"user":"alice","session":"s","heartbeatMs":2000,"gateways":["ws://127.0.0.1:8080/ws","wss://b.example/ws"]}}`
	_, m, err := Decode(FromGateway, []byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if w := m.(*Welcome); len(w.Gateways) != 2 {
		t.Fatalf("gateways %q", w.Gateways)
	}
	bad := strings.Replace(ok, "wss://b.example/ws", "https://evil.example/", 1)
	_, _, err = Decode(FromGateway, []byte(bad))
	var se *Error
	if !errors.As(err, &se) || se.Field != "gateways" {
		t.Fatalf("a welcome naming %q: %v, want a gateways error", "https://evil.example/", err)
	}
}
