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
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/internal/freeport"
)

// Pool is a SIP endpoint on 127.0.0.1 that answers OPTIONS with 200, or with the status
// set by SetStatus (a pool answers 503 while draining, pool/health.go).
type Pool struct {
	tb     testing.TB
	addr   string
	status atomic.Int32
	every  atomic.Int32 // answer only every n-th OPTIONS (SetAnswerEvery); 0 or 1: all
	seen   atomic.Int64

	mu    sync.Mutex
	conn  net.PacketConn
	done  chan struct{}
	tcp   net.Listener          // on the same port: the controller's connection watch
	conns map[net.Conn]struct{} // accepted from tcp, open
	tcpWG sync.WaitGroup
}

// NewPool starts a Pool on a free UDP port of 127.0.0.1 outside the kernel's ephemeral
// range, so no other test's socket takes it while the pool is stopped; it is stopped when
// the test ends.
func NewPool(tb testing.TB) *Pool {
	tb.Helper()
	port, err := freeport.UDPAndTCP("127.0.0.1", freeport.Default(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	p := &Pool{tb: tb, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
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

// Start listens again on the pool's address, UDP for the probes and TCP on the same
// port for the controller's connection watch (keep-alives answered as a pool's SIP
// stack does); it does nothing if the pool is running.
func (p *Pool) Start(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil {
		return nil
	}
	var err error
	for range 20 { // a free UDP port whose TCP twin is taken: try another
		var conn net.PacketConn
		conn, err = net.ListenPacket("udp4", p.addr)
		if err != nil {
			return fmt.Errorf("drtest: listen %s: %w", p.addr, err)
		}
		var tcp net.Listener
		tcp, err = net.Listen("tcp4", conn.LocalAddr().String())
		if err != nil {
			conn.Close()
			if p.addr == "127.0.0.1:0" {
				continue
			}
			return fmt.Errorf("drtest: listen tcp %s: %w", p.addr, err)
		}
		p.addr = conn.LocalAddr().String()
		p.conn, p.done, p.tcp, p.conns = conn, make(chan struct{}), tcp, map[net.Conn]struct{}{}
		go p.serve(conn, p.done)
		p.tcpWG.Go(func() { p.accept(tcp) })
		return nil
	}
	return fmt.Errorf("drtest: no UDP and TCP port pair free: %w", err)
}

// Stop closes the pool's sockets, so probes go unanswered and the controller's watch
// connection is closed, and waits for its goroutines.
func (p *Pool) Stop() error {
	p.mu.Lock()
	if p.conn == nil {
		p.mu.Unlock()
		return nil
	}
	err := p.conn.Close()
	<-p.done
	p.conn = nil
	p.tcp.Close()
	p.tcp = nil
	p.dropLocked()
	p.mu.Unlock()
	p.tcpWG.Wait() // its goroutines take mu on their way out
	return err
}

// DropConnections resets every TCP connection the pool has accepted while it goes on
// listening and answering, as a pool that dropped its connections (an idle timeout, a
// restarted listener) does.
func (p *Pool) DropConnections() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropLocked()
}

// Connections is how many TCP connections the pool holds open.
func (p *Pool) Connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

func (p *Pool) dropLocked() {
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // a reset, not an orderly close
		}
		c.Close()
		delete(p.conns, c)
	}
}

func (p *Pool) accept(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.tcp != l { // stopped meanwhile
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.tcpWG.Go(func() { p.keepAlive(c) })
	}
}

// keepAlive answers each CRLFCRLF keep-alive on c with CRLF (RFC 5626 §4.4.1) until c
// closes.
func (p *Pool) keepAlive(c net.Conn) {
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		c.Close()
	}()
	buf := make([]byte, 512)
	seen := 0 // CRLF bytes of a keep-alive read so far
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		for _, b := range buf[:n] {
			if b != "\r\n\r\n"[seen] {
				seen = 0
				continue
			}
			if seen++; seen == 4 {
				seen = 0
				if _, err := c.Write([]byte("\r\n")); err != nil {
					return
				}
			}
		}
	}
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
