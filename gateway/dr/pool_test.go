package dr

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// testPool is a real SIP endpoint on loopback that answers OPTIONS the way a pool does
// (pool/health.go): 200, or whatever status is set (503 while "draining"). stop closes
// its UDP socket, as `POST /api/demo/pools/{name}/stop` does, and start listens on the
// same address again.
type testPool struct {
	tb   testing.TB
	addr string
	code atomic.Int32

	mu   sync.Mutex
	ua   *sipgo.UserAgent
	conn net.PacketConn
	done chan struct{}
}

func newTestPool(tb testing.TB) *testPool {
	tb.Helper()
	p := &testPool{tb: tb, addr: "127.0.0.1:0"}
	p.code.Store(200)
	p.start()
	tb.Cleanup(p.stop)
	return p
}

func (p *testPool) start() {
	p.tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil {
		return
	}
	conn, err := net.ListenPacket("udp4", p.addr)
	if err != nil {
		p.tb.Fatalf("test pool listen %s: %v", p.addr, err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-pool"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		p.tb.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		p.tb.Fatal(err)
	}
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		code := int(p.code.Load())
		reason := "OK"
		if code == 503 {
			reason = "Draining"
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
	})
	p.addr = conn.LocalAddr().String()
	p.ua, p.conn, p.done = ua, conn, make(chan struct{})
	done := p.done
	go func() {
		defer close(done)
		_ = srv.ServeUDP(conn)
	}()
}

func (p *testPool) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil {
		return
	}
	p.conn.Close()
	<-p.done
	p.ua.Close()
	p.conn, p.ua = nil, nil
}

// fakeRedirector is a Redirector the test steers: every call is reported on calls and
// returns what the test sends on results (or ctx's error when it is cancelled first).
type fakeRedirector struct {
	calls   chan redirectCall
	results chan error
}

type redirectCall struct {
	to  string
	ctx context.Context
}

func newFakeRedirector() *fakeRedirector {
	return &fakeRedirector{calls: make(chan redirectCall, 16), results: make(chan error)}
}

func (f *fakeRedirector) Redirect(ctx context.Context, to string) error {
	f.calls <- redirectCall{to: to, ctx: ctx}
	select {
	case err := <-f.results:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
