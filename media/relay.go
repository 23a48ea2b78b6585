package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// RelayConfig configures a Relay.
type RelayConfig struct {
	// Addr is where both sides' sockets bind; zero: 127.0.0.1. Ports are
	// chosen by the kernel.
	Addr netip.Addr
	// GoroutineReaders reads each socket with a goroutine of its own (a
	// blocking ReadFrom per packet) instead of the shared poller: the
	// benchmarks' before/after comparison.
	GoroutineReaders bool
}

// Relay forwards one call's RTP between two plain-RTP peers, A and B, as
// a media proxy between two SIP user agents does (what rtpengine does
// without its kernel module): each side gets a socket of its own, RTP from
// side A's peer leaves side B's socket toward B's peer and vice versa. It
// runs the same per-packet steps as a Bridge's SIP side — RTP validation,
// source check with latching (symmetric RTP, RFC 4961; RFC 7362 §4), and
// SSRC/sequence/timestamp rewriting so each peer sees one continuous
// stream while the other changes under it — on the same shared poller, so
// the relay benchmarks measure the Bridge's RTP machinery against a plain
// forwarder and rtpengine on an RTP-only load. RTCP is not relayed.
type Relay struct {
	sides [2]relaySide
	epoch time.Time

	mu     sync.Mutex // guards closed
	closed bool
	wg     sync.WaitGroup
}

// relaySide is one side's socket, peer and the state of the packets that
// arrive on it (owned by the one goroutine that reads the socket).
type relaySide struct {
	conn *net.UDPConn
	reg  *pollReg
	// peer is where this side's packets go and the only source accepted;
	// not yet locked: the first packet's source is latched.
	peer atomic.Pointer[relayPeer]
	in   wire
	rw   *rewriter // rewrites what arrives here for the other side

	forwarded, wrongSource, malformed, noRoute, writeErrors atomic.Uint64
}

type relayPeer struct {
	addr   netip.AddrPort
	locked bool
}

// RelayStats counts what a Relay did with the packets that arrived on
// each side.
type RelayStats struct {
	ForwardedAB, ForwardedBA uint64 // arrived on A and sent to B, and back
	WrongSource              uint64 // from another address than the side's peer
	Malformed                uint64 // not RTP version 2 (RTCP included)
	NoRoute                  uint64 // the other side's peer is not known yet
	WriteErrors              uint64
}

// NewRelay opens both sides' sockets and starts reading them. The peers
// are set with SetPeer; until then, and for a side whose peer has no
// address, the first valid packet's source becomes that side's peer.
func NewRelay(cfg *RelayConfig) (*Relay, error) {
	var c RelayConfig
	if cfg != nil {
		c = *cfg
	}
	ip := c.Addr
	if !ip.IsValid() {
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	r := &Relay{epoch: time.Now()}
	for i := range r.sides {
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
		if err != nil {
			r.closeConns()
			return nil, fmt.Errorf("media: relay listen %v: %w", ip, err)
		}
		r.sides[i].conn = conn
		r.sides[i].rw = newRewriter()
	}
	for i := range r.sides {
		in, out := &r.sides[i], &r.sides[1-i]
		handle := func(pkt []byte, src netip.AddrPort) { r.forward(in, out, pkt, src) }
		if !c.GoroutineReaders {
			if p, err := defaultPoller(); err == nil {
				if reg, err := p.add(in.conn, handle); err == nil {
					in.reg = reg
					continue
				}
			}
		}
		r.wg.Add(1)
		go r.read(in.conn, handle)
	}
	return r, nil
}

// Addr returns the local address of side 0 (A) or 1 (B): where that
// side's peer sends, for its SDP.
func (r *Relay) Addr(side int) netip.AddrPort {
	return r.sides[side].conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// SetPeer sets side's peer (0: A, 1: B) to addr, as its SDP says; with
// latch, the first packet's source replaces it (a peer behind NAT).
func (r *Relay) SetPeer(side int, addr netip.AddrPort, latch bool) error {
	if side != 0 && side != 1 {
		return fmt.Errorf("media: relay side %d, want 0 or 1", side)
	}
	if !addr.IsValid() || addr.Port() == 0 {
		return fmt.Errorf("media: relay side %d: invalid address %v", side, addr)
	}
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	r.sides[side].peer.Store(&relayPeer{addr: addr, locked: !latch})
	return nil
}

// Stats returns the counters so far.
func (r *Relay) Stats() RelayStats {
	var s RelayStats
	s.ForwardedAB, s.ForwardedBA = r.sides[0].forwarded.Load(), r.sides[1].forwarded.Load()
	for i := range r.sides {
		d := &r.sides[i]
		s.WrongSource += d.wrongSource.Load()
		s.Malformed += d.malformed.Load()
		s.NoRoute += d.noRoute.Load()
		s.WriteErrors += d.writeErrors.Load()
	}
	return s
}

// Close stops reading, closes both sockets and waits for the readers.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	for i := range r.sides {
		if r.sides[i].reg != nil {
			r.sides[i].reg.remove()
		}
	}
	err := r.closeConns()
	r.wg.Wait()
	return err
}

func (r *Relay) closeConns() error {
	var errs []error
	for i := range r.sides {
		if c := r.sides[i].conn; c != nil {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// read is a side's reader without the poller.
func (r *Relay) read(conn *net.UDPConn, handle func([]byte, netip.AddrPort)) {
	defer r.wg.Done()
	buf := make([]byte, maxPacket)
	for {
		n, src, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		handle(buf[:n], src)
	}
}

// forward sends one datagram that arrived on in to out's peer, rewritten
// in place like Bridge.toSIP: a plain 12-byte header with out's SSRC and
// continuous sequence and timestamp, before the payload, padding cut.
func (r *Relay) forward(in, out *relaySide, pkt []byte, src netip.AddrPort) {
	w := &in.in
	if !parseRTP(pkt, w) || isRTCP(pkt) {
		in.malformed.Add(1)
		return
	}
	p := in.peer.Load()
	switch {
	case p == nil || !p.locked:
		// Latch (RFC 7362 §4): the first valid packet's source is the peer.
		if !in.peer.CompareAndSwap(p, &relayPeer{addr: src, locked: true}) {
			if q := in.peer.Load(); q == nil || q.addr != src {
				in.wrongSource.Add(1)
				return
			}
		}
	case src != p.addr:
		in.wrongSource.Add(1)
		return
	}
	to := out.peer.Load()
	if to == nil {
		in.noRoute.Add(1)
		return
	}
	seq, ts, first := in.rw.rewrite(w.ssrc, w.seq, w.ts, false, false, int64(time.Since(r.epoch)))
	b := pkt[w.payload-fixedHeader : w.end]
	putHeader(b, w.marker || first, w.pt, seq, ts, in.rw.ssrc)
	if _, err := out.conn.WriteToUDPAddrPort(b, to.addr); err != nil {
		in.writeErrors.Add(1)
		return
	}
	in.forwarded.Add(1)
}
