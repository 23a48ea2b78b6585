package pool

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/parkway/parkway/internal/devca"
	"github.com/parkway/parkway/internal/freeport"
)

// The demo's pools get every port they listen on back when stopped and started again:
// SIP (UDP and TCP), TLS and park are picked from the range asked for, all distinct, and
// a restart binds the same ones. With the default range they lie outside the kernel's
// ephemeral range, where no port-0 socket or outgoing connection can take them while
// the pool is down (the Playwright flake: a stopped pool-a's UDP port taken by a
// browser's ICE socket, and its restart failing with "address already in use").
func TestDemoPoolsRestartOnTheirPorts(t *testing.T) {
	for _, r := range []freeport.Range{freeport.Default(), {Min: 24500, Max: 24599}} {
		a, b, err := DemoConfigsIn("127.0.0.1", 0, 0, r)
		if err != nil {
			t.Fatal(err)
		}
		ca, err := devca.New("test", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := DemoTLSIn(&a, &b, ca, r); err != nil {
			t.Fatal(err)
		}
		addrs := []string{a.Listen, b.Listen, a.ParkListen, b.ParkListen, a.TLS.Listen, b.TLS.Listen}
		seen := map[int]bool{}
		for _, addr := range addrs {
			p := portOf(addr)
			if !r.Contains(p) || seen[p] {
				t.Fatalf("range %v: ports %v: %s is outside the range or picked twice", r, addrs, addr)
			}
			seen[p] = true
		}
		pa := startPool(t, a, Options{})
		before := []string{pa.Addr(), pa.TLSAddr(), pa.ParkAddr()}
		if err := pa.Stop(); err != nil {
			t.Fatal(err)
		}
		// While it is down, port-0 sockets come and go as a browser's ICE does.
		for range 200 {
			if u, err := net.ListenPacket("udp", "127.0.0.1:0"); err == nil {
				defer u.Close()
			}
		}
		if err := pa.Start(context.Background()); err != nil {
			t.Fatalf("range %v: restart: %v", r, err)
		}
		after := []string{pa.Addr(), pa.TLSAddr(), pa.ParkAddr()}
		for i := range before {
			if before[i] != after[i] || before[i] != []string{a.Listen, a.TLS.Listen, a.ParkListen}[i] {
				t.Errorf("range %v: listening on %v before the restart and %v after, configured %v", r, before, after, addrs)
			}
		}
		pa.Stop()
	}
}
