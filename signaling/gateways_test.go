package signaling

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckGatewayURLRefuses(t *testing.T) {
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
