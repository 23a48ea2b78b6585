// Package drtest has test helpers for code that runs a dr.Controller: a real SIP
// endpoint on loopback that answers the controller's OPTIONS probes like a pool does,
// and can be stopped and started again on the same address.
//
// It is not a pool (that is package pool): it answers OPTIONS and nothing else, so tests
// of the controller, the admin API and the gateway's phase push stay fast and do not
// depend on registrar or park code.
package drtest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// Pool is a SIP endpoint on 127.0.0.1 that answers OPTIONS with 200, or with the status
// set by SetStatus (a pool answers 503 while draining, pool/health.go).
type Pool struct {
	tb     testing.TB
	addr   string
	status atomic.Int32
	every  atomic.Int32 // answer only every n-th OPTIONS (SetAnswerEvery); 0 or 1: all
	seen   atomic.Int64

	mu   sync.Mutex
	conn net.PacketConn
	done chan struct{}
}

// NewPool starts a Pool on a free UDP port of 127.0.0.1; it is stopped when the test
// ends.
func NewPool(tb testing.TB) *Pool {
	tb.Helper()
	p := &Pool{tb: tb, addr: "127.0.0.1:0"}
	p.status.Store(200)
	if err := p.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = p.Stop() })
	return p
}

// Addr is the pool's SIP address, host:port, the same across Stop and Start.
func (p *Pool) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// SetStatus sets the status code OPTIONS is answered with.
func (p *Pool) SetStatus(code int) { p.status.Store(int32(code)) }

// SetAnswerEvery makes the pool answer only every n-th OPTIONS it receives and ignore
// the rest, as a lossy path would drop them (n ≤ 1: answer all).
func (p *Pool) SetAnswerEvery(n int) { p.every.Store(int32(n)) }

// Running reports whether the pool is listening.
func (p *Pool) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conn != nil
}

// Start listens again on the pool's address; it does nothing if the pool is running.
func (p *Pool) Start(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil {
		return nil
	}
	conn, err := net.ListenPacket("udp4", p.addr)
	if err != nil {
		return fmt.Errorf("drtest: listen %s: %w", p.addr, err)
	}
	p.addr = conn.LocalAddr().String()
	p.conn, p.done = conn, make(chan struct{})
	go p.serve(conn, p.done)
	return nil
}

// Stop closes the pool's socket, so probes go unanswered, and waits for its goroutines.
func (p *Pool) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil {
		return nil
	}
	err := p.conn.Close()
	<-p.done
	p.conn = nil
	return err
}

// serve answers every OPTIONS on conn until it is closed. It answers from the read
// loop itself, to the datagram's source (RFC 3581 rport behaviour), so once Stop has
// closed the socket nothing of the pool is left running — a sipgo server's transaction
// goroutines can outlive its listener and open a new socket to send a late response.
func (p *Pool) serve(conn net.PacketConn, done chan struct{}) {
	defer close(done)
	parser := sip.NewParser()
	buf := make([]byte, 64<<10)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return
		}
		msg, err := parser.ParseSIP(buf[:n])
		if err != nil {
			continue
		}
		req, ok := msg.(*sip.Request)
		if !ok || req.Method != sip.OPTIONS {
			continue
		}
		if every := int64(p.every.Load()); every > 1 && p.seen.Add(1)%every != 0 {
			continue
		}
		code := int(p.status.Load())
		reason := "OK"
		switch {
		case code == 503:
			reason = "Draining"
		case code != 200:
			reason = "Test"
		}
		res := sip.NewResponseFromRequest(req, code, reason, nil)
		_, _ = conn.WriteTo([]byte(res.String()), from)
	}
}

// Pools is a set of named Pools that implements the admin API's DemoPools interface
// (StopPool, StartPool), as the demo's real pools do.
type Pools map[string]*Pool

// ErrUnknownPool is returned (wrapped) for a name not in the set. The admin package
// has its own sentinel; tests that need it wrap both.
var ErrUnknownPool = fmt.Errorf("drtest: unknown pool")

// StopPool stops the named pool.
func (ps Pools) StopPool(name string) error {
	p, ok := ps[name]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownPool, name)
	}
	return p.Stop()
}

// StartPool starts the named pool.
func (ps Pools) StartPool(ctx context.Context, name string) error {
	p, ok := ps[name]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownPool, name)
	}
	return p.Start(ctx)
}
