package park

import (
	"net"
	"strings"
	"testing"

	"github.com/parkway/parkway/park/parkwire"
)

// Subscriptions are the one thing a peer can create without a parked call;
// they are capped.
func TestSubscriptionFloodIsCapped(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{MaxSubscriptions: 20})
	raw := newRawUDP(t, s.Addr())
	ok, refused := 0, 0
	for i := 0; i < 40; i++ {
		res := raw.roundTrip(t, ctx, requestText(raw, "SUBSCRIBE", "park", s.Addr(), "Event: dialog\r\nExpires: 3600\r\n", ""))
		// An accepted subscription's NOTIFY may overtake its 200: it is not the
		// answer, so keep reading (without sending another SUBSCRIBE).
		for strings.HasPrefix(res, "NOTIFY") {
			res = raw.roundTrip(t, ctx, "")
		}
		switch {
		case strings.HasPrefix(res, "SIP/2.0 200"):
			ok++
		case strings.HasPrefix(res, "SIP/2.0 503") && strings.Contains(res, "Retry-After"):
			refused++
		default:
			t.Fatalf("answered %q", firstLine(res))
		}
	}
	if ok != 20 || refused != 20 {
		t.Fatalf("%d accepted, %d refused; want 20 and 20", ok, refused)
	}
}

func TestTCPConnectionFloodIsCapped(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{MaxTCPConns: 5})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 5; i++ {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// The sixth is accepted by the kernel and closed by us: reading sees EOF.
	extra, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	dl, _ := ctx.Deadline()
	extra.SetReadDeadline(dl)
	if _, err := extra.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection over the cap stayed open")
	}
	// UDP service is unaffected.
	p := newParties(t)
	if _, err := parkBob(t, ctx, p, uri(s, parkwire.ParkUser)); err != nil {
		t.Fatal(err)
	}
}
