package media

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
)

// RTCP toward the SIP peer (RFC 3550 §6). The browser side's RTCP is
// pion's (report interceptors); the SIP side gets its own: the two sides'
// SSRCs differ, so relaying reports would describe the wrong streams.
//
// The bridge sends a compound packet (SR or RR, then SDES CNAME, §6.1)
// every 5 s on average, randomised over [0.5, 1.5] of that (§6.3.1)
// — a two-party session needs no bandwidth-scaled interval — and a BYE
// on Close (§6.6). What it receives is parsed for the peer's view of our
// stream (loss, jitter) and the timing of its sender reports, and counted.

// rtcpInterval is the RFC 3550 §6.2 recommended minimum interval.
const rtcpInterval = 5 * time.Second

// ntpEpochOffset is the seconds between 1900 (NTP) and 1970 (Unix).
const ntpEpochOffset = 2208988800

// cname is the SDES CNAME of every bridge (§6.5.1): unique per process run
// is enough, receivers only use it to bind SSRCs of one participant.
var cname = "parkway-" + randomHex()

func randomHex() string {
	const hex = "0123456789abcdef"
	b := make([]byte, 12)
	for i := range b {
		b[i] = hex[rand.IntN(16)]
	}
	return string(b)
}

// reception is the RFC 3550 A.1/A.3/A.8 receiver state for the SIP
// peer's stream. The SIP reader goroutine updates it per packet without
// allocating; the values the RTCP goroutine needs are mirrored in atomics.
type reception struct {
	started  bool
	ssrc     uint32
	maxSeq   uint16
	cycles   uint32
	transit  uint32
	jitterQ4 uint32 // jitter × 16, the integer form of A.8

	// Mirrors for the RTCP goroutine.
	aSSRC, aBase, aExtMax, aReceived, aJitter atomic.Uint32
	aStarted                                  atomic.Bool
	// aLate counts packets at or behind the highest sequence number, over every
	// stream; only such packets touch it, so the in-order path pays nothing.
	aLate atomic.Uint64
}

// update records one valid RTP packet from the peer; arrival is in
// timestamp units (8 kHz). Events skip jitter: their timestamp is the
// event start, not the sampling instant (RFC 4733 §2.3.1).
func (r *reception) update(ssrc uint32, seq uint16, ts uint32, event bool, arrival uint32) {
	if !r.started || ssrc != r.ssrc {
		r.started, r.ssrc, r.maxSeq, r.cycles, r.jitterQ4 = true, ssrc, seq, 0, 0
		r.transit = arrival - ts
		r.aBase.Store(uint32(seq))
		r.aReceived.Store(0)
		r.aSSRC.Store(ssrc)
		r.aStarted.Store(true)
	} else if d := seq - r.maxSeq; d != 0 && d < 0x8000 {
		if seq < r.maxSeq {
			r.cycles += 1 << 16 // wrapped (A.1)
		}
		r.maxSeq = seq
	} else {
		r.aLate.Add(1)
	}
	if !event {
		t := arrival - ts
		d := int32(t - r.transit)
		r.transit = t
		if d < 0 {
			d = -d
		}
		r.jitterQ4 += uint32(d) - ((r.jitterQ4 + 8) >> 4)
	}
	r.aReceived.Add(1)
	r.aExtMax.Store(r.cycles | uint32(r.maxSeq))
	r.aJitter.Store(r.jitterQ4 >> 4)
}

// rtcpState is the RTCP goroutine's bookkeeping and what the RTCP reader
// learnt from the peer.
type rtcpState struct {
	conn *net.UDPConn // the RTCP socket, RTP port + 1 (RFC 3550 §11)

	lastSR   atomic.Uint32 // middle 32 bits of the peer's last SR NTP time
	lastSRAt atomic.Int64  // when it arrived, Bridge.now()

	peerLost   atomic.Uint32 // fraction lost (×256) the peer reports about our stream
	peerJitter atomic.Uint32

	sentPackets, sentOctets atomic.Uint32 // RTP we sent to the peer
	sentTS                  atomic.Uint32 // RTP timestamp of the last one
	sentAt                  atomic.Int64  // and when, Bridge.now()

	// Owned by the RTCP goroutine: A.3's interval counters.
	expectedPrior, receivedPrior uint32
}

// listenPair opens an RTP socket on an even port and its RTCP socket on
// the next one (RFC 3550 §11): a SIP peer whose SDP has no a=rtcp
// (RFC 3605) sends RTCP to RTP port + 1. A fixed port in laddr is used as
// given; otherwise the pair comes from [portMin, portMax] when set (so a
// firewall can open a known range), or from the OS's ephemeral ports.
func listenPair(laddr netip.AddrPort, portMin, portMax uint16) (rtpConn, rtcpConn *net.UDPConn, err error) {
	try := func(port uint16) bool {
		rtpConn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(laddr.Addr(), port)))
		if err != nil {
			return false
		}
		got := rtpConn.LocalAddr().(*net.UDPAddr).Port
		if got%2 == 1 {
			rtpConn.Close()
			err = fmt.Errorf("odd RTP port %d", got)
			return false
		}
		rtcpConn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: laddr.Addr().AsSlice(), Port: got + 1})
		if err != nil {
			rtpConn.Close()
			return false
		}
		return true
	}
	switch {
	case laddr.Port() != 0:
		if laddr.Port()%2 == 1 {
			return nil, nil, fmt.Errorf("RTP port %d is odd (RFC 3550 §11)", laddr.Port())
		}
		if try(laddr.Port()) {
			return rtpConn, rtcpConn, nil
		}
		return nil, nil, err
	case portMin != 0 || portMax != 0:
		lo, hi := int(portMin+1)&^1, int(portMax)-1 // even RTP ports whose +1 is in range
		if lo > hi {
			return nil, nil, fmt.Errorf("port range %d-%d holds no even/odd pair", portMin, portMax)
		}
		pairs := (hi-lo)/2 + 1
		start := rand.IntN(pairs) // random start: concurrent calls spread out
		for i := range pairs {
			if try(uint16(lo + 2*((start+i)%pairs))) {
				return rtpConn, rtcpConn, nil
			}
		}
		return nil, nil, fmt.Errorf("no free even/odd port pair in %d-%d", portMin, portMax)
	}
	for range 64 {
		if try(0) {
			return rtpConn, rtcpConn, nil
		}
	}
	return nil, nil, errors.New("no free even/odd port pair")
}

// rtcpDest is where RTCP for peer p goes, and from which socket.
func (b *Bridge) rtcpDest(p *peer) (netip.AddrPort, *net.UDPConn) {
	switch {
	case p.RTCPMux:
		return p.addr, b.conn
	case p.RTCPAddr.IsValid() && (!b.latch || p.addr == p.Addr):
		return p.RTCPAddr, b.rtcp.conn
	}
	// Latched or implicit: RTP port + 1 at the address media comes from.
	return netip.AddrPortFrom(p.addr.Addr(), p.addr.Port()+1), b.rtcp.conn
}

// runRTCP sends reports until Close, then a BYE.
func (b *Bridge) runRTCP() {
	defer b.wg.Done()
	for {
		d := time.Duration(float64(b.interval) * (0.5 + rand.Float64()))
		select {
		case <-b.done:
			b.sendRTCP(true)
			return
		case <-time.After(d):
			b.sendRTCP(false)
		}
	}
}

func (b *Bridge) sendRTCP(bye bool) {
	p := b.remote.Load()
	if p == nil {
		return
	}
	ssrc := b.toSIPState.rw.ssrc
	now := b.now()
	var reports []rtcp.ReceptionReport
	if rc := &b.reception; rc.aStarted.Load() {
		// RFC 3550 A.3: loss from expected vs received, overall and over
		// the interval since the last report.
		extMax, received := rc.aExtMax.Load(), rc.aReceived.Load()
		expected := extMax - rc.aBase.Load() + 1
		lost := int64(expected) - int64(received)
		lost = max(min(lost, 0x7fffff), -0x800000) // 24-bit signed field
		expInt := expected - b.rtcp.expectedPrior
		recInt := received - b.rtcp.receivedPrior
		b.rtcp.expectedPrior, b.rtcp.receivedPrior = expected, received
		var fraction uint8
		if expInt != 0 && recInt < expInt {
			fraction = uint8((expInt - recInt) << 8 / expInt)
		}
		rr := rtcp.ReceptionReport{SSRC: rc.aSSRC.Load(), FractionLost: fraction, TotalLost: uint32(lost) & 0xffffff,
			LastSequenceNumber: extMax, Jitter: rc.aJitter.Load()}
		if lsr := b.rtcp.lastSR.Load(); lsr != 0 {
			rr.LastSenderReport = lsr
			rr.Delay = uint32((now - b.rtcp.lastSRAt.Load()) * 65536 / int64(time.Second))
		}
		reports = append(reports, rr)
	}
	var pkts []rtcp.Packet
	if sent := b.rtcp.sentPackets.Load(); sent > 0 {
		wall := time.Now()
		secs := uint64(wall.Unix() + ntpEpochOffset)
		frac := uint64(wall.Nanosecond()) << 32 / uint64(time.Second)
		// The RTP time of "now" on our stream's clock (§6.4.1).
		rtpNow := b.rtcp.sentTS.Load() + uint32((now-b.rtcp.sentAt.Load())*clockRate/int64(time.Second))
		pkts = append(pkts, &rtcp.SenderReport{SSRC: ssrc, NTPTime: secs<<32 | frac, RTPTime: rtpNow,
			PacketCount: sent, OctetCount: b.rtcp.sentOctets.Load(), Reports: reports})
	} else {
		pkts = append(pkts, &rtcp.ReceiverReport{SSRC: ssrc, Reports: reports})
	}
	pkts = append(pkts, rtcp.NewCNAMESourceDescription(ssrc, cname))
	if bye {
		pkts = append(pkts, &rtcp.Goodbye{Sources: []uint32{ssrc}})
	}
	buf, err := rtcp.Marshal(pkts)
	if err != nil {
		return
	}
	to, conn := b.rtcpDest(p)
	if _, err := conn.WriteToUDPAddrPort(buf, to); err != nil {
		b.stats.writeErrors.Add(1)
		return
	}
	b.stats.rtcpSent.Add(1)
}

// readRTCP reads the RTCP socket until Close.
func (b *Bridge) readRTCP() {
	defer b.wg.Done()
	buf := make([]byte, maxPacket)
	for {
		n, src, err := b.rtcp.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		b.handleRTCP(buf[:n], src)
	}
}

// handleRTCP takes RTCP from the SIP side, on the RTCP socket or muxed on
// the RTP one. Only the peer's address (any port: RTCP may come from
// elsewhere than RTP behind a NAT) is believed.
func (b *Bridge) handleRTCP(pkt []byte, src netip.AddrPort) {
	p := b.remote.Load()
	if p == nil || src.Addr() != p.addr.Addr() {
		b.stats.wrongSource.Add(1)
		return
	}
	pkts, err := rtcp.Unmarshal(pkt)
	if err != nil {
		b.stats.malformed.Add(1)
		return
	}
	b.stats.rtcp.Add(1)
	ours := b.toSIPState.rw.ssrc
	for _, x := range pkts {
		var blocks []rtcp.ReceptionReport
		switch r := x.(type) {
		case *rtcp.SenderReport:
			b.rtcp.lastSR.Store(uint32(r.NTPTime >> 16))
			b.rtcp.lastSRAt.Store(b.now())
			blocks = r.Reports
		case *rtcp.ReceiverReport:
			blocks = r.Reports
		}
		for _, rr := range blocks {
			if rr.SSRC == ours {
				b.rtcp.peerLost.Store(uint32(rr.FractionLost))
				b.rtcp.peerJitter.Store(rr.Jitter)
			}
		}
	}
}
