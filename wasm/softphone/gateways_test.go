package softphone

import "testing"

func TestGateways(t *testing.T) {
	own := "ws://127.0.0.1:8080/ws"
	g := NewGateways(own)
	if g.Failed() || g.URL() != own {
		t.Fatalf("one gateway: moved to %q", g.URL())
	}
	g.Learn([]string{"ws://127.0.0.1:8080/ws", "ws://127.0.0.1:8081/ws", "javascript:x", "ws://127.0.0.1:8082/ws", "ws://127.0.0.1:8081/ws"})
	if g.URL() != own {
		t.Fatalf("learning a list moved the tab to %q", g.URL())
	}
	for _, want := range []string{"ws://127.0.0.1:8081/ws", "ws://127.0.0.1:8082/ws", own} {
		if !g.Failed() || g.URL() != want {
			t.Fatalf("next after a failure: %q, want %q", g.URL(), want)
		}
	}
	// A welcome from gw2 whose list leaves gw2 out keeps it, first.
	g.Failed()
	g.Learn([]string{"wss://a.example/ws", "wss://b.example/ws"})
	if g.URL() != "ws://127.0.0.1:8081/ws" || !g.Failed() || g.URL() != "wss://a.example/ws" {
		t.Fatalf("after a list without the current gateway: %q", g.URL())
	}
	// A list with nothing usable changes nothing.
	g.Learn([]string{"https://evil.example/"})
	if g.URL() != "wss://a.example/ws" {
		t.Fatalf("an unusable list moved the tab to %q", g.URL())
	}
}
