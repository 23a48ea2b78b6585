package sipnet

import (
	"context"
	"net"
	"testing"
)

func TestListenBothSharesOnePort(t *testing.T) {
	ctx := context.Background()
	udp, tcp, err := ListenBoth(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	defer tcp.Close()
	if u, c := udp.LocalAddr().(*net.UDPAddr).Port, tcp.Addr().(*net.TCPAddr).Port; u != c || u == 0 {
		t.Fatalf("udp port %d, tcp port %d", u, c)
	}
	// A fixed port that is taken is refused, not moved elsewhere.
	if u2, t2, err := ListenBoth(ctx, udp.LocalAddr().String()); err == nil {
		u2.Close()
		t2.Close()
		t.Fatal("bound a port that was already in use")
	}
	if _, _, err := ListenBoth(ctx, "no-port"); err == nil {
		t.Fatal("accepted an address without a port")
	}
}
