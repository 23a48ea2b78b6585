package dr

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
)

// The connection watch (issue 12, item 6): besides the OPTIONS probes, the controller
// holds one TCP connection (TLS for a pool probed over TLS) to each pool's SIP listener.
// When the pool's process dies the kernel closes it at once, so the gateway learns
// within a millisecond what three missed probes tell it in about a second. The probes
// stay the judge of everything else — a host that is gone or a network that is cut
// closes no connection — and the watch only ever marks a pool down, never up.
//
// A connection that ends is not yet an outage: the pool may have dropped just that
// connection (an idle timeout, a connection limit, a listener restarted). So the watch
// probes at once (the probe loop is kicked) and tries to reconnect for up to
// ProbeTimeout, each attempt a connection plus a keep-alive round trip (RFC 5626 §4.4.1:
// CRLFCRLF, answered CRLF — sipgo answers it). The pool is marked down only when a
// reconnection is refused: the pool's host answered that nothing listens there any
// more, which a lossy path cannot fake (a lost SYN is silence, not a refusal). Silence
// or anything else is left to the probes, so 20 % loss never causes an outage through
// this path. A pool that never accepted the watch's connection (no TCP listener where
// the probes go, e.g. behind a UDP relay) is only retried, with backoff, and the watch
// never judges it.

// keepaliveInterval is how often the watch sends its CRLFCRLF keep-alive: a pool closes
// TCP connections idle for 10 minutes (pool.DefaultTCPIdleTimeout), and middleboxes
// forget idle flows too.
const keepaliveInterval = 15 * time.Second

// watchRetryMax caps the backoff between attempts to open the watch connection to a
// pool that does not accept it.
const watchRetryMax = 5 * time.Second

// stableConn is how long a watch connection must have lasted for its end to be taken as
// news about the pool; one that ends sooner (a pool at its connection limit accepts and
// closes at once) is only retried, with backoff, so the watch never spins.
const stableConn = 500 * time.Millisecond

var crlfPing = []byte("\r\n\r\n")

// watchLoop keeps the watch connection to pool i until ctx ends.
func (c *Controller) watchLoop(ctx context.Context, i int, pool Pool) {
	backoff := c.cfg.ProbeInterval
	var conn net.Conn
	var opened time.Time // when conn was established
	for ctx.Err() == nil {
		if conn == nil {
			dctx, cancel := context.WithTimeout(ctx, c.cfg.ProbeTimeout)
			var err error
			conn, err = c.dialPool(dctx, pool)
			cancel()
			if err != nil {
				if !sleepCtx(ctx, backoff) {
					return
				}
				backoff = min(2*backoff, watchRetryMax)
				continue
			}
			opened = time.Now()
		}
		backoff = c.cfg.ProbeInterval
		err := hold(ctx, conn)
		conn = nil
		if ctx.Err() != nil {
			return
		}
		c.kickProbe(i)
		if time.Since(opened) < stableConn {
			c.log.Debug("dr: watch connection ended at once; retrying", "pool", pool.Name, "err", err)
			if !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, watchRetryMax)
			continue
		}
		var refused error
		conn, opened, refused = c.confirm(ctx, pool)
		switch {
		case refused != nil:
			c.lost(i, fmt.Sprintf("its connection closed and reconnecting was refused (%v)", refused))
		case conn != nil:
			c.log.Info("dr: pool closed the watch connection; reconnected at once, pool up", "pool", pool.Name, "err", err)
		default:
			c.log.Info("dr: pool closed the watch connection and did not answer again in time; the probes decide", "pool", pool.Name, "err", err)
		}
	}
}

// confirm tries to reconnect to a pool whose watch connection has just ended, for up to
// ProbeTimeout: it returns the new connection (and when it was established) once one
// answers a keep-alive, or the refusal that proves the pool's process gone, or neither
// when time ran out.
func (c *Controller) confirm(ctx context.Context, pool Pool) (conn net.Conn, opened time.Time, refused error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ProbeTimeout)
	defer cancel()
	for {
		conn, err := c.dialPool(ctx, pool)
		if err == nil {
			opened = time.Now()
			err = ping(ctx, conn)
			if err == nil {
				return conn, opened, nil
			}
			conn.Close()
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, time.Time{}, err
		}
		// Reset during a handshake, or the like: a process on its way out, or one that
		// dropped us again. Try again shortly, within the deadline.
		if !sleepCtx(ctx, 10*time.Millisecond) {
			return nil, time.Time{}, nil
		}
	}
}

// dialPool opens a watch connection: TCP to the pool's SIP address, TLS over it for a
// pool probed over TLS (verified as the probes' are).
func (c *Controller) dialPool(ctx context.Context, pool Pool) (net.Conn, error) {
	d := &net.Dialer{}
	if host, _, err := net.SplitHostPort(pool.SIPAddr); err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() && ip.To4() != nil {
			// As the probes: a loopback pool is reached from loopback only.
			d.LocalAddr = &net.TCPAddr{IP: ip}
		}
	}
	if pool.Transport != "TLS" {
		return d.DialContext(ctx, "tcp", pool.SIPAddr)
	}
	cfg := &tls.Config{}
	if c.cfg.TLS != nil {
		cfg = c.cfg.TLS.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(pool.SIPAddr)
	}
	return (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(ctx, "tcp", pool.SIPAddr)
}

// ping sends one keep-alive and waits, until ctx ends, for the pool's CRLF answer.
func ping(ctx context.Context, conn net.Conn) error {
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
		defer conn.SetDeadline(time.Time{})
	}
	if _, err := conn.Write(crlfPing); err != nil {
		return err
	}
	buf := make([]byte, 2)
	_, err := conn.Read(buf)
	return err
}

// hold keeps conn open, sending a keep-alive every keepaliveInterval and reading (and
// discarding) the answers, until the connection fails or ctx ends; it closes conn.
func hold(ctx context.Context, conn net.Conn) error {
	done := make(chan struct{})
	var keepalive sync.WaitGroup
	defer keepalive.Wait()
	defer close(done)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	keepalive.Go(func() {
		t := time.NewTicker(keepaliveInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				// A write that fails closes the connection, which ends the read below.
				conn.SetWriteDeadline(time.Now().Add(keepaliveInterval))
				if _, err := conn.Write(crlfPing); err != nil {
					conn.Close()
					return
				}
			}
		}
	})
	defer conn.Close()
	buf := make([]byte, 64)
	for {
		if _, err := conn.Read(buf); err != nil {
			return err
		}
	}
}

// kickProbe makes pool i's probe loop probe now rather than at its next tick.
func (c *Controller) kickProbe(i int) {
	select {
	case c.kicks[i] <- struct{}{}:
	default:
	}
}

// lost marks pool i down at once: its process is gone (see the watch above).
func (c *Controller) lost(i int, detail string) {
	c.record(i, false, detail, true)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
