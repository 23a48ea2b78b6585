package pool

import (
	"net"
	"testing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// TestProxyOverTCP: a phone that registers a ;transport=tcp contact gets its requests
// over TCP, even when the caller used UDP (RFC 3263 §4.1: the URI's transport wins).
func TestProxyOverTCP(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	ctx := testCtx(t)

	// bob's phone: TCP only.
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("bob"), sipgo.WithUserAgentHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := sipgo.NewServer(ua)
	got := make(chan *sip.Request, 1)
	srv.OnMessage(func(req *sip.Request, tx sip.ServerTransaction) {
		tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		got <- req
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTCP(l)
	t.Cleanup(func() { l.Close(); ua.Close() })
	bobAddr := l.Addr().String()

	// Register that contact (the REGISTER itself travels over UDP).
	reg := newRawUA(t)
	req := registerReq(p, "bob", "<sip:bob@"+bobAddr+";transport=tcp>", 300)
	if res := reg.doAuth(t, req, "bob", "bob-pw"); res.StatusCode != 200 {
		t.Fatalf("register over TCP = %d", res.StatusCode)
	}

	u := newRawUA(t)
	host, port, _ := sip.ParseAddr(p.Addr())
	msg := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", User: "bob", Host: host, Port: port})
	msg.SetBody([]byte("via tcp"))
	res, err := u.client.Do(ctx, msg)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("MESSAGE = %v %v, want 200", res, err)
	}
	select {
	case r := <-got:
		if r.Transport() != "TCP" || string(r.Body()) != "via tcp" {
			t.Fatalf("bob got %q over %s", r.Body(), r.Transport())
		}
	case <-ctx.Done():
		t.Fatal("bob never got the MESSAGE")
	}
}
