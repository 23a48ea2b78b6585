package cluster

import (
	"net"
	"strings"
	"testing"
)

// A route port another program holds: the node does not start, and its error says
// why (the listener's own error), not only that NATS did not become ready.
func TestStartSaysWhyTheRoutePortFailed(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	n, err := Start(Config{Name: "gw1", Listen: addr, Routes: []string{addr}, Logger: quietLogger()})
	if err == nil {
		n.Close()
		t.Fatalf("a node started on %s, which another listener holds", addr)
	}
	if !strings.Contains(err.Error(), "did not start") || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("error %q; want it to say NATS did not start because the address is in use", err)
	}
}
