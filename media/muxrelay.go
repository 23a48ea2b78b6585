package media

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// A MuxRelay relays the RTP of many calls through ONE shared UDP port, as
// an SFU serves every participant on one port: each call's two peers send
// to the same address, and the relay tells the calls apart by the
// datagram's source address (the address each peer's SDP gave). The port
// is opened by Sockets sockets (SO_REUSEPORT; the kernel hashes each
// source to one of them; one per core by default), read by Workers
// workers (one by default). A worker wakes every Pace, reads each of its
// sockets — up to muxBatch datagrams of many calls with one recvmmsg, again
// at once while a read fills a batch — sends them on with one sendmmsg
// per read, and sleeps until Pace after its last wake: at any rate the
// packets that arrived meanwhile, of every call and every socket, cost one
// wake-up. This is where the per-packet cost of a socket per call (a
// wake-up, a read and a write a packet, at 50 packets/s a socket never
// more) goes. A worker that read nothing waits for the next packet
// instead, so an idle relay does not wake.
//
// Each packet gets the per-call Relay's treatment (RTP validation, SSRC,
// sequence and timestamp rewriting so each peer sees one stream). What a
// shared port cannot do is latch (RFC 7362): a packet from an address no
// call registered belongs to no call and is dropped (Unknown), so peers
// behind a NAT that rewrites their SDP's address need the per-call Relay.
// Two calls — or two sides of a call — cannot register the same peer
// address ([ErrPeerInUse]). Closing a call removes its addresses at once:
// from then on their packets are Unknown.
//
// A pacing worker sleeps in the kernel and keeps its P meanwhile (see
// muxrelay_linux.go): while a MuxRelay runs, GOMAXPROCS is one higher
// for each of its workers, and Close lowers it again (setting it, like
// any runtime.GOMAXPROCS call, ends the runtime's own updates of it to
// the process's CPU limit).
type MuxRelay struct {
	addr  netip.AddrPort
	epoch time.Time
	pace  time.Duration
	io    *muxIO // the sockets and their workers (platform part)

	mu     sync.RWMutex // guards routes, closed; workers hold it shared while they route a batch
	routes map[netip.AddrPort]*muxSide
	closed bool

	unknown, malformed atomic.Uint64
}

// MuxRelayConfig configures a MuxRelay.
type MuxRelayConfig struct {
	// Addr is where the shared sockets bind; a zero IP is 127.0.0.1 and
	// port 0 lets the kernel choose.
	Addr netip.AddrPort
	// Sockets is how many sockets share the port; zero: GOMAXPROCS. Each
	// brings its receive buffer, and the kernel spreads the senders over
	// them.
	Sockets int
	// Workers is how many workers (goroutines, each on a thread of its
	// own while it sleeps) read the sockets, each its share of them; zero:
	// one, at most Sockets. One worker moves a few hundred thousand
	// packets/s; each more costs as many wake-ups again, but on a busy
	// machine each thread gets its share of CPU.
	Workers int
	// Pace is a worker's period: it reads its sockets, sends, and sleeps
	// until Pace after it woke (zero: DefaultMuxPace; negative: no sleep,
	// it reads again at once and waits only when nothing came, which
	// batches only under overload). It bounds the latency the relay adds.
	Pace time.Duration
}

// DefaultMuxPace is MuxRelayConfig.Pace's default: at 100 calls (10,000
// packets/s) a worker reads ≈ 20 packets a wake, at 1,000 calls ≈ 200,
// and the 2 ms it adds at most is well inside a 20 ms packet interval. On
// this project's 2-core VM a wake-up costs about as much CPU as relaying
// ten packets; 1 ms measured ≈ 25 % more CPU per packet at 100 calls.
const DefaultMuxPace = 2 * time.Millisecond

// muxBatch is how many datagrams one recvmmsg or sendmmsg carries.
const muxBatch = 64

// ErrPeerInUse is returned by MuxCall.SetPeer when another call (or the
// call's other side) already sends from that address: on a shared port
// the source address is what tells calls apart.
var ErrPeerInUse = errors.New("media: peer address already in use on the shared port")

// MuxCall is one call relayed by a MuxRelay: side 0 (A) and side 1 (B)
// both send to the relay's Addr; what A sends goes to B's peer and back.
type MuxCall struct {
	r     *MuxRelay
	sides [2]muxSide
	done  bool // guarded by r.mu
}

// muxSide is one side of a MuxCall: its peer and the state of the packets
// from it (rewritten for the other side's peer).
type muxSide struct {
	// mu serializes the packets from this peer: the kernel hashes one
	// source to one socket, so one worker in practice, uncontended.
	mu    sync.Mutex
	rw    *rewriter
	in    wire
	peer  netip.AddrPort // guarded by the relay's mu
	other *muxSide

	forwarded, malformed, noRoute, writeErrors atomic.Uint64
}

// MuxStats counts what a MuxRelay did with the packets it read.
type MuxStats struct {
	Unknown   uint64 // from an address no call registered
	Malformed uint64 // not RTP version 2 (RTCP included), or truncated
}

// MuxCallStats counts one call's packets.
type MuxCallStats struct {
	ForwardedAB, ForwardedBA uint64 // arrived from A and sent to B, and back
	Malformed                uint64
	NoRoute                  uint64 // the other side has no peer yet
	WriteErrors              uint64
}

var (
	procsMu    sync.Mutex
	procsAdded int // Ps the running mux workers added to GOMAXPROCS
)

// addProcs raises (n > 0) or lowers GOMAXPROCS by n.
func addProcs(n int) {
	procsMu.Lock()
	defer procsMu.Unlock()
	procsAdded += n
	runtime.GOMAXPROCS(max(1, runtime.GOMAXPROCS(0)+n))
}

// defaultSockets is a MuxRelay's default socket count: one per P the
// process had before mux workers added theirs.
func defaultSockets() int {
	procsMu.Lock()
	defer procsMu.Unlock()
	return max(1, runtime.GOMAXPROCS(0)-procsAdded)
}

// NewMuxRelay opens the shared port and starts its workers.
func NewMuxRelay(cfg *MuxRelayConfig) (*MuxRelay, error) {
	var c MuxRelayConfig
	if cfg != nil {
		c = *cfg
	}
	if !c.Addr.Addr().IsValid() {
		c.Addr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), c.Addr.Port())
	}
	if c.Sockets <= 0 {
		c.Sockets = defaultSockets()
	}
	switch {
	case c.Pace == 0:
		c.Pace = DefaultMuxPace
	case c.Pace < 0:
		c.Pace = 0
	}
	r := &MuxRelay{epoch: time.Now(), pace: c.Pace, routes: map[netip.AddrPort]*muxSide{}}
	io, addr, err := listenMux(r, c.Addr, c.Sockets, c.Workers)
	if err != nil {
		return nil, err
	}
	r.io, r.addr = io, addr
	io.start()
	return r, nil
}

// Addr is the shared port's address: what every call's peers send to.
func (r *MuxRelay) Addr() netip.AddrPort { return r.addr }

// Stats returns the relay-wide counters so far.
func (r *MuxRelay) Stats() MuxStats {
	return MuxStats{Unknown: r.unknown.Load(), Malformed: r.malformed.Load()}
}

// routed is the number of peer addresses routed (two per call with both
// peers set).
func (r *MuxRelay) routed() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.routes)
}

// NewCall adds a call with no peers yet; SetPeer gives them.
func (r *MuxRelay) NewCall() (*MuxCall, error) {
	r.mu.RLock()
	closed := r.closed
	r.mu.RUnlock()
	if closed {
		return nil, errors.New("media: mux relay closed")
	}
	c := &MuxCall{r: r}
	for i := range c.sides {
		c.sides[i].rw = newRewriter()
		c.sides[i].other = &c.sides[1-i]
	}
	return c, nil
}

// Close closes the shared sockets and waits for the workers.
func (r *MuxRelay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	clear(r.routes)
	r.mu.Unlock()
	return r.io.close()
}

// SetPeer sets side's peer (0: A, 1: B) to addr, as its SDP says: from
// now on the packets from addr are this side's, and the other side's go
// to addr. A changed address (a re-INVITE) replaces the old one.
func (c *MuxCall) SetPeer(side int, addr netip.AddrPort) error {
	if side != 0 && side != 1 {
		return fmt.Errorf("media: mux call side %d, want 0 or 1", side)
	}
	if !addr.IsValid() || addr.Port() == 0 || addr.Addr().IsUnspecified() {
		return fmt.Errorf("media: mux call side %d: invalid address %v", side, addr)
	}
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	if addr.Addr().Is6() && c.r.addr.Addr().Is4() {
		return fmt.Errorf("media: mux call side %d: IPv6 peer %v on an IPv4 port", side, addr)
	}
	r := c.r
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed || c.done:
		return errors.New("media: mux call closed")
	case r.routes[addr] == &c.sides[side]:
		return nil
	case r.routes[addr] != nil:
		return fmt.Errorf("%w: %v", ErrPeerInUse, addr)
	}
	s := &c.sides[side]
	if s.peer.IsValid() {
		delete(r.routes, s.peer)
	}
	s.peer = addr
	r.routes[addr] = s
	return nil
}

// Stats returns the call's counters so far.
func (c *MuxCall) Stats() MuxCallStats {
	st := MuxCallStats{ForwardedAB: c.sides[0].forwarded.Load(), ForwardedBA: c.sides[1].forwarded.Load()}
	for i := range c.sides {
		s := &c.sides[i]
		st.Malformed += s.malformed.Load()
		st.NoRoute += s.noRoute.Load()
		st.WriteErrors += s.writeErrors.Load()
	}
	return st
}

// Close ends the call: its peers' addresses are released at once (a
// batch already routed may still leave). Closing twice is harmless.
func (c *MuxCall) Close() error {
	r := c.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.done {
		return nil
	}
	c.done = true
	for i := range c.sides {
		s := &c.sides[i]
		if s.peer.IsValid() && r.routes[s.peer] == s {
			delete(r.routes, s.peer)
		}
	}
	return nil
}

// route handles one datagram pkt from src, rewriting it in place: it
// returns the bytes to send (within pkt), where, and the side they came
// from; ok false when the datagram is dropped (and counted). The caller
// holds r.mu shared; now is the time since r.epoch.
func (r *MuxRelay) route(pkt []byte, src netip.AddrPort, now int64) (out []byte, to netip.AddrPort, from *muxSide, ok bool) {
	s := r.routes[src]
	if s == nil {
		r.unknown.Add(1)
		return nil, to, nil, false
	}
	to = s.other.peer
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &s.in
	if !parseRTP(pkt, w) || isRTCP(pkt) {
		s.malformed.Add(1)
		return nil, to, nil, false
	}
	if !to.IsValid() {
		s.noRoute.Add(1)
		return nil, to, nil, false
	}
	seq, ts, first := s.rw.rewrite(w.ssrc, w.seq, w.ts, false, false, now)
	out = pkt[w.payload-fixedHeader : w.end]
	putHeader(out, w.marker || first, w.pt, seq, ts, s.rw.ssrc)
	return out, to, s, true
}
