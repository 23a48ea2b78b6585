package media

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// maxPacket bounds one RTP datagram. G.711 at 20 ms is 172 bytes; 1500 is
// an Ethernet MTU and leaves room for anything a sane peer sends.
const maxPacket = 1500

// Remote is the SIP peer as its SDP describes it.
type Remote struct {
	// Addr is the c=/m= address and port (RFC 4566 §5.7, §5.14).
	Addr netip.AddrPort
	// Codec is the G.711 law the SIP side negotiated (its static payload type).
	Codec Codec
	// EventPT is the SIP side's telephone-event payload type, 0 when it
	// negotiated none (RFC 4733 §7.1.1 gives it a dynamic type).
	EventPT uint8
	// RTCPAddr is the SDP's a=rtcp address (RFC 3605); zero means RTP
	// port + 1 (RFC 3550 §11).
	RTCPAddr netip.AddrPort
	// RTCPMux is set when the SIP side negotiated a=rtcp-mux (RFC 5761):
	// RTCP then shares the RTP socket.
	RTCPMux bool
}

// BridgeConfig configures a Bridge.
type BridgeConfig struct {
	// LocalAddr is where the SIP-side RTP socket binds; its port goes into
	// the gateway's SDP toward the SIP peer. Zero: 127.0.0.1, any port.
	LocalAddr netip.AddrPort
	// Codec is the G.711 law chosen toward the browser when it offers
	// both; the zero value is PCMU. Set it to the SIP side's law when that
	// is known first (an incoming SIP call), so no side must renegotiate.
	// A value other than PCMU or PCMA takes the browser's first choice.
	Codec Codec
	// Latch makes the bridge lock onto the source of the first valid RTP
	// packet after each SetRemote instead of the SDP address, for SIP peers
	// behind NAT (RFC 7362 §4, "latching"); after that, other sources are
	// dropped as with a fixed address. Off: only the SDP address is accepted.
	Latch bool
	// PortMin and PortMax, when set and LocalAddr has no port, bound the
	// SIP-side RTP/RTCP ports, so a firewall can open a known range.
	PortMin, PortMax uint16
	// RTCPInterval is the mean interval of RTCP reports to the SIP peer;
	// zero means RFC 3550's 5 s.
	RTCPInterval time.Duration
	// SharedPoller reads the SIP-side RTP socket with the process's shared
	// epoll/recvmmsg poller (one worker per core for every bridge) instead
	// of a goroutine of the bridge's own. Off by default: on the loaded
	// 2-core VM it measured no better than a goroutine per socket (see
	// media/BENCHMARKS.md, "RTP relay in separate processes").
	SharedPoller bool
}

// Bridge relays one call leg: browser audio from a webrtc.TrackRemote to
// the SIP peer over a symmetric RTP socket, and the SIP peer's RTP into a
// Track toward the browser.
//
// Symmetric RTP (RFC 4961): the bridge sends from the socket it receives
// on, so a NAT between it and the SIP peer sees one flow, and it accepts
// RTP only from the address it sends to. Anything else is dropped and
// counted in Stats; the call carries on.
type Bridge struct {
	conn   *net.UDPConn
	sipReg *pollReg // the shared poller reading conn; nil: readSIP does
	track  *Track
	latch  bool
	epoch  time.Time

	remote atomic.Pointer[peer]
	law    atomic.Int32  // Codec+1 from the answer (Leg), 0 before
	dir    atomic.Uint32 // Direction
	muted  atomic.Bool   // the browser's audio is not forwarded (SetMuted)
	rebase atomic.Bool   // next SIP packet starts a new input stream
	stats  counters

	fromSIPState sideState // owned by the SIP reader goroutine
	toSIPState   sideState // owned by the browser reader goroutine
	reception    reception // updated by the SIP reader goroutine
	rtcp         rtcpState

	interval time.Duration // mean RTCP report interval
	done     chan struct{} // closed by Close
	rtcpDone chan struct{} // closed when the RTCP sender has said BYE

	mu       sync.Mutex // guards receiver, feed, closed
	receiver *webrtc.RTPReceiver
	feed     *feed // the one goroutine feeding toSIP now: a browser track or hold
	closed   bool
	// feedMu serialises Attach and Detach: the old feed has returned before
	// the next one starts, so toSIPState always has exactly one owner.
	feedMu sync.Mutex

	wg sync.WaitGroup
}

// peer is the SIP side as the forwarding path sees it; replaced whole on
// every change so a packet sees one consistent version.
type peer struct {
	Remote
	addr   netip.AddrPort // where to send; the only accepted source once locked
	locked bool
}

// sideState is one direction's reusable working set: the whole
// forwarding path runs inside it without allocating.
type sideState struct {
	buf [maxPacket]byte
	w   wire
	rw  *rewriter
	hdr rtp.Header
}

// NewBridge opens the SIP-side RTP socket and starts reading it. The
// browser side starts with Attach; the SIP peer with SetRemote.
func NewBridge(cfg *BridgeConfig) (*Bridge, error) {
	var c BridgeConfig
	if cfg != nil {
		c = *cfg
	}
	laddr := c.LocalAddr
	if !laddr.Addr().IsValid() {
		laddr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), laddr.Port())
	}
	conn, rtcpConn, err := listenPair(laddr, c.PortMin, c.PortMax)
	if err != nil {
		return nil, fmt.Errorf("media: listen RTP/RTCP %v: %w", laddr, err)
	}
	b := &Bridge{
		conn:     conn,
		rtcp:     rtcpState{conn: rtcpConn},
		done:     make(chan struct{}),
		interval: cmp.Or(c.RTCPInterval, rtcpInterval),
		rtcpDone: make(chan struct{}),
		track:    NewTrack("audio", "parkway", c.Codec),
		latch:    c.Latch,
		epoch:    time.Now(),
	}
	b.fromSIPState.rw = newRewriter()
	b.toSIPState.rw = newRewriter()
	b.startSIPReader(c.SharedPoller)
	b.wg.Add(2)
	go b.readRTCP()
	go func() {
		defer close(b.rtcpDone)
		b.runRTCP()
	}()
	return b, nil
}

// LocalAddr is the SIP-side RTP address, for the gateway's SDP.
func (b *Bridge) LocalAddr() netip.AddrPort {
	return b.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Track is the local track toward the browser; add it to the
// PeerConnection (Leg does).
func (b *Bridge) Track() *Track { return b.track }

// Stats returns the counters so far.
func (b *Bridge) Stats() Stats {
	s := b.stats.snapshot()
	s.PeerFractionLost = uint8(b.rtcp.peerLost.Load())
	s.PeerJitter = b.rtcp.peerJitter.Load()
	s.LateFromSIP = b.reception.aLate.Load()
	s.JitterFromSIP = b.reception.aJitter.Load()
	if b.reception.aStarted.Load() {
		expected := int64(b.reception.aExtMax.Load()) - int64(b.reception.aBase.Load()) + 1
		if lost := expected - int64(b.reception.aReceived.Load()); lost > 0 {
			s.LostFromSIP = uint64(lost)
		}
	}
	return s
}

// Direction returns the current direction.
func (b *Bridge) Direction() Direction { return Direction(b.dir.Load()) }

// SetDirection gates forwarding (hold/resume); see Direction.
func (b *Bridge) SetDirection(d Direction) { b.dir.Store(uint32(d)) }

// SetMuted stops (true) or restarts (false) forwarding the browser's audio to the
// SIP peer: the user's mute button, enforced at the gateway so a tab that keeps
// sending cannot be heard. Unlike hold it is not signalled to the SIP peer and leaves
// the direction alone; RFC 4733 events still go through, so a muted user can dial
// digits. Dropped packets count as GatedToSIP.
func (b *Bridge) SetMuted(m bool) { b.muted.Store(m) }

// Muted reports whether SetMuted(true) is in force.
func (b *Bridge) Muted() bool { return b.muted.Load() }

// SetRemote points the bridge at a new SIP peer: on answer, and on every
// re-INVITE that moves the media (park, retrieve, transfer). The browser
// sees no change: the next packet from the new peer continues the same
// SSRC, sequence and timestamp. A law other than the browser's fails with
// ErrCodecMismatch and leaves the current peer in place.
func (b *Bridge) SetRemote(r Remote) error {
	if !r.Addr.IsValid() || r.Addr.Port() == 0 {
		return fmt.Errorf("media: SetRemote: invalid address %v", r.Addr)
	}
	if !r.Codec.Valid() {
		return fmt.Errorf("media: SetRemote: payload type %d is not G.711", uint8(r.Codec))
	}
	if c, ok := b.Codec(); ok && c != r.Codec {
		return fmt.Errorf("media: SetRemote: SIP %v, browser %v: %w", r.Codec, c, ErrCodecMismatch)
	}
	r.Addr = netip.AddrPortFrom(r.Addr.Addr().Unmap(), r.Addr.Port())
	if r.RTCPAddr.IsValid() {
		r.RTCPAddr = netip.AddrPortFrom(r.RTCPAddr.Addr().Unmap(), r.RTCPAddr.Port())
	}
	b.remote.Store(&peer{Remote: r, addr: r.Addr, locked: !b.latch})
	b.rebase.Store(true)
	return nil
}

// Remote returns the current SIP peer and the address in use (the latched
// source when latching); ok is false before SetRemote.
func (b *Bridge) Remote() (r Remote, addr netip.AddrPort, ok bool) {
	p := b.remote.Load()
	if p == nil {
		return Remote{}, netip.AddrPort{}, false
	}
	return p.Remote, p.addr, true
}

// Codec returns the G.711 law negotiated with the browser: from the
// bound track, else the attached receiver, else the answer Leg gave; ok is
// false before any of them.
func (b *Bridge) Codec() (Codec, bool) {
	if c, ok := b.track.Codec(); ok {
		return c, true
	}
	if l := b.law.Load(); l != 0 {
		return Codec(l - 1), true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.receiver != nil {
		if n, _, ok := choose(b.receiver.GetParameters().Codecs, 0, false); ok {
			return n.codec, true
		}
	}
	return 0, false
}

// expect records the law an answer to the browser carried, so SetRemote
// can check the SIP side before media flows.
func (b *Bridge) expect(c Codec) { b.law.Store(int32(c) + 1) }

// feed is the goroutine that owns the browser → SIP path: a browser
// track's reader or a hold sound. stop ends it; done closes when it has.
type feed struct {
	stop  func()
	done  chan struct{}
	track *webrtc.TrackRemote // nil for a hold sound
}

// Attach starts forwarding a browser track (from PeerConnection.OnTrack)
// to the SIP peer. The bridge owns the reading goroutine; Close stops the
// receiver to end it, Detach a read deadline. A second Attach (renegotiation, or a new
// PeerConnection after a hand-over) stops the first feed and waits for it
// before the new one reads a packet, so a late packet of the old leg is
// never forwarded and the SIP peer's stream continues without a jump.
func (b *Bridge) Attach(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) error {
	if track == nil || receiver == nil {
		return errors.New("media: Attach: nil track or receiver")
	}
	if track.Kind() != webrtc.RTPCodecTypeAudio {
		return fmt.Errorf("media: Attach: %s track, want audio", track.Kind())
	}
	pref, hasPref := codecOf(track.Codec())
	n, _, ok := choose(receiver.GetParameters().Codecs, pref, hasPref)
	if !ok {
		return fmt.Errorf("media: Attach: %w", ErrNoG711)
	}
	if c, ok := codecOf(track.Codec()); ok {
		n.codec, n.audioPT = c, uint8(track.Codec().PayloadType)
	}
	b.mu.Lock()
	same := b.feed != nil && b.feed.track == track
	b.mu.Unlock()
	if same {
		return nil // pion reported the track again: it is being read already
	}
	return b.swapFeed(receiver, func() *feed {
		// A feed stops by a read deadline, not by stopping the receiver, so
		// the same track can feed again (Leg.Resume after an ICE restart).
		_ = track.SetReadDeadline(time.Time{})
		f := &feed{stop: func() { _ = track.SetReadDeadline(time.Now()) }, done: make(chan struct{}), track: track}
		go func() {
			defer close(f.done)
			b.readBrowser(track, n)
		}()
		return f
	})
}

// Detach stops forwarding the browser's audio — its tab went away, or its
// call is being handed to another PeerConnection — and plays h to the SIP
// peer until the next Attach. The SIP side (socket, SSRC, sequence and
// timestamp) is untouched.
func (b *Bridge) Detach(h Hold) error {
	return b.swapFeed(nil, func() *feed {
		if h == HoldNothing {
			return nil
		}
		stop := make(chan struct{})
		f := &feed{stop: func() { close(stop) }, done: make(chan struct{})}
		go func() {
			defer close(f.done)
			b.holdFeed(h, stop)
		}()
		return f
	})
}

// DetachBrowser stops a browser track's feed, if that is what feeds the
// bridge, and starts nothing in its place (a hold sound already playing
// goes on): the first step of a hand-over, so the old leg's audio stops at
// once even while its PeerConnection lives on.
func (b *Bridge) DetachBrowser() error {
	b.mu.Lock()
	f := b.feed
	b.mu.Unlock()
	if f == nil || f.track == nil {
		return nil
	}
	return b.Detach(HoldNothing)
}

// swapFeed stops the current feed, waits for it, and starts the one start
// makes (none when start returns nil); receiver, when not nil, becomes the
// attached receiver.
func (b *Bridge) swapFeed(receiver *webrtc.RTPReceiver, start func() *feed) error {
	b.feedMu.Lock()
	defer b.feedMu.Unlock()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	old := b.feed
	b.feed = nil
	b.mu.Unlock()
	if old != nil {
		old.stop()
		<-old.done
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if receiver != nil {
		b.receiver = receiver
	}
	b.wg.Add(1) // done by the feed's function, or below when there is none
	if b.feed = start(); b.feed == nil {
		b.wg.Done()
	}
	return nil
}

// Close stops both directions and closes the socket. The PeerConnection
// belongs to the caller (or to Leg).
func (b *Bridge) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	rcv, f := b.receiver, b.feed
	b.mu.Unlock()
	close(b.done)
	<-b.rtcpDone // BYE goes out before the sockets close
	if b.sipReg != nil {
		b.sipReg.remove() // before the close, so its descriptor is still ours
	}
	err := errors.Join(b.conn.Close(), b.rtcp.conn.Close())
	if rcv != nil {
		_ = rcv.Stop()
	}
	if f != nil {
		f.stop()
	}
	b.wg.Wait()
	return err
}

func (b *Bridge) now() int64 { return int64(time.Since(b.epoch)) }

// startSIPReader hands the SIP socket to the process's shared RTP poller
// (poller_linux.go) when asked and available, else starts readSIP.
func (b *Bridge) startSIPReader(shared bool) {
	if shared {
		if p, err := defaultPoller(); err == nil {
			s := &b.fromSIPState
			if r, err := p.add(b.conn, func(pkt []byte, src netip.AddrPort) { b.fromSIP(s, pkt, src, b.now()) }); err == nil {
				b.sipReg = r
				return
			}
		}
	}
	b.wg.Add(1)
	go b.readSIP()
}

// readSIP is the SIP-side reader without the shared poller: one
// goroutine, one buffer.
func (b *Bridge) readSIP() {
	defer b.wg.Done()
	s := &b.fromSIPState
	for {
		n, src, err := b.conn.ReadFromUDPAddrPort(s.buf[:])
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Unconnected UDP sockets report no ICMP errors on Linux;
			// anything else is transient. Count it and keep the call up.
			b.stats.writeErrors.Add(1)
			continue
		}
		b.fromSIP(s, s.buf[:n], src, b.now())
	}
}

// fromSIP forwards one datagram from the SIP socket toward the browser.
// It is the hot path measured by BenchmarkForward: no allocation, no lock.
func (b *Bridge) fromSIP(s *sideState, pkt []byte, src netip.AddrPort, now int64) {
	if isRTCP(pkt) {
		// RTCP muxed on the RTP port (RFC 5761): terminated here, never
		// relayed (see rtcp.go).
		b.handleRTCP(pkt, src)
		return
	}
	if !parseRTP(pkt, &s.w) {
		b.stats.malformed.Add(1)
		return
	}
	p := b.remote.Load()
	if p == nil {
		b.stats.noRoute.Add(1)
		return
	}
	event := p.EventPT != 0 && s.w.pt == p.EventPT
	if !event && s.w.pt != uint8(p.Codec) {
		b.stats.unknownPayload.Add(1)
		return
	}
	if p.locked {
		if src != p.addr {
			b.stats.wrongSource.Add(1)
			return
		}
	} else {
		// Latch (RFC 7362 §4): the first valid packet's source becomes the
		// peer; one allocation per SetRemote, not per packet. Right after a
		// SetRemote, a late packet of the previous far end (same SSRC as
		// the last stream, from elsewhere than the new SDP address) must
		// not win the latch.
		if src != p.addr && s.rw.started && s.w.ssrc == s.rw.inSSRC && b.rebase.Load() {
			b.stats.wrongSource.Add(1)
			return
		}
		b.remote.CompareAndSwap(p, &peer{Remote: p.Remote, addr: src, locked: true})
	}
	b.reception.update(s.w.ssrc, s.w.seq, s.w.ts, event, uint32(now*clockRate/int64(time.Second)))
	if !b.Direction().Receives() {
		b.stats.gatedToBrowser.Add(1)
		return
	}
	bd := b.track.bound.Load()
	if bd == nil {
		b.stats.noRoute.Add(1)
		return
	}
	if bd.codec != p.Codec {
		b.stats.mismatch.Add(1)
		return
	}
	if event && bd.eventPT == 0 {
		b.stats.unknownPayload.Add(1)
		return
	}
	rebase := b.rebase.Load() && b.rebase.Swap(false)
	seq, ts, first := s.rw.rewrite(s.w.ssrc, s.w.seq, s.w.ts, event, rebase, now)
	h := &s.hdr
	h.Version = 2
	h.Padding, h.Extension, h.PaddingSize = false, false, 0
	// RFC 4733 §2.5.1.1 owns the marker of event packets; for audio it
	// flags the new talkspurt after a switch (RFC 3551 §4.1).
	h.Marker = s.w.marker || (first && !event)
	h.SequenceNumber, h.Timestamp = seq, ts
	h.CSRC, h.Extensions = h.CSRC[:0], h.Extensions[:0]
	if err := bd.write(h, pkt[s.w.payload:s.w.end], event); err != nil {
		b.stats.writeErrors.Add(1)
		return
	}
	b.stats.toBrowser.Add(1)
	if event {
		b.stats.eventsToBrowser.Add(1)
	}
}

// readBrowser is the browser-side reader: one goroutine per attached track.
func (b *Bridge) readBrowser(track *webrtc.TrackRemote, n negotiated) {
	defer b.wg.Done()
	s := &b.toSIPState
	for {
		// pion has already undone SRTP; what arrives is plain RTP.
		k, _, err := track.Read(s.buf[:])
		if err != nil {
			return // the receiver stopped: Close, renegotiation or hangup
		}
		b.toSIP(s, s.buf[:k], n, b.now())
	}
}

// toSIP forwards one browser packet to the SIP peer, rewriting it in
// place: the new 12-byte header is written just before the payload, over
// any extension the browser added (it was negotiated with the browser, not
// with the SIP peer, RFC 8285 §4), and the padding is cut off.
func (b *Bridge) toSIP(s *sideState, pkt []byte, n negotiated, now int64) {
	if !parseRTP(pkt, &s.w) {
		b.stats.malformed.Add(1)
		return
	}
	p := b.remote.Load()
	if p == nil {
		b.stats.noRoute.Add(1)
		return
	}
	var pt uint8
	event := false
	switch {
	case s.w.pt == n.audioPT:
		if n.codec != p.Codec {
			b.stats.mismatch.Add(1)
			return
		}
		pt = uint8(p.Codec)
	case n.eventPT != 0 && s.w.pt == n.eventPT:
		if p.EventPT == 0 {
			b.stats.unknownPayload.Add(1)
			return
		}
		pt, event = p.EventPT, true
	default:
		b.stats.unknownPayload.Add(1)
		return
	}
	if !b.Direction().Sends() || (!event && b.muted.Load()) {
		b.stats.gatedToSIP.Add(1)
		return
	}
	// The browser's stream only changes on renegotiation, which the
	// rewriter notices by SSRC; the SIP peer sees one SSRC per leg.
	seq, ts, first := s.rw.rewrite(s.w.ssrc, s.w.seq, s.w.ts, event, false, now)
	out := pkt[s.w.payload-fixedHeader : s.w.end]
	putHeader(out, s.w.marker || (first && !event), pt, seq, ts, s.rw.ssrc)
	if _, err := b.conn.WriteToUDPAddrPort(out, p.addr); err != nil {
		b.stats.writeErrors.Add(1)
		return
	}
	b.stats.toSIP.Add(1)
	b.rtcp.sentPackets.Add(1)
	b.rtcp.sentOctets.Add(uint32(s.w.end - s.w.payload))
	b.rtcp.sentTS.Store(ts)
	b.rtcp.sentAt.Store(now)
	if event {
		b.stats.eventsToSIP.Add(1)
	}
}
