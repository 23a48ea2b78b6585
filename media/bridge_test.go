package media

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

const (
	browserHz = 440
	phoneHz   = 660
)

func TestAudioBothWays(t *testing.T) {
	checkGoroutines(t)
	c := newCall(t, nil, browserHz, phoneHz)
	eventually(t, "the phone to hear the browser's tone", func() bool { return c.phone.ear.heard(browserHz) })
	eventually(t, "the browser to hear the phone's tone", func() bool { return c.browser.ear.heard(phoneHz) })
	if c.phone.ear.heard(phoneHz) || c.browser.ear.heard(browserHz) {
		t.Error("a side hears its own tone")
	}
	for _, p := range c.phone.ear.snapshot() {
		if p.src != c.bridge().LocalAddr() {
			t.Fatalf("phone got RTP from %v, want the bridge's socket %v (symmetric RTP)", p.src, c.bridge().LocalAddr())
		}
		if p.pt != uint8(PCMU) {
			t.Fatalf("phone got payload type %d, want PCMU", p.pt)
		}
	}
	if s := c.bridge().Stats(); s.WrongSource+s.Malformed+s.WriteErrors != 0 {
		t.Errorf("unexpected drops: %+v", s)
	}
}

func TestPCMAPreferred(t *testing.T) {
	checkGoroutines(t)
	c := newCall(t, &BridgeConfig{Codec: PCMA}, browserHz, phoneHz)
	if got, _ := c.bridge().Codec(); got != PCMA {
		t.Fatalf("negotiated %v, want PCMA", got)
	}
	eventually(t, "the phone to hear the browser in A-law", func() bool { return c.phone.ear.heard(browserHz) })
	eventually(t, "the browser to hear the phone in A-law", func() bool { return c.browser.ear.heard(phoneHz) })
	if pk := c.phone.ear.snapshot(); pk[0].pt != uint8(PCMA) {
		t.Fatalf("phone got payload type %d, want PCMA", pk[0].pt)
	}
}

func TestCodecMismatchRefused(t *testing.T) {
	checkGoroutines(t)
	c := newCall(t, nil, browserHz, phoneHz)
	err := c.bridge().SetRemote(Remote{Addr: c.phone.addr(), Codec: PCMA})
	if !errors.Is(err, ErrCodecMismatch) {
		t.Fatalf("SetRemote(PCMA) on a PCMU leg = %v, want ErrCodecMismatch", err)
	}
	if r, _, _ := c.bridge().Remote(); r.Codec != PCMU {
		t.Fatal("a refused SetRemote replaced the peer")
	}
}

// TestContinuityAcrossRemoteChange moves the SIP side to a new far end (as
// park, retrieve and transfer do) and checks the browser sees one stream.
func TestContinuityAcrossRemoteChange(t *testing.T) {
	checkGoroutines(t)
	c := newCall(t, nil, browserHz, phoneHz)
	eventually(t, "the first far end's tone", func() bool { return c.browser.ear.heard(phoneHz) })

	const secondHz = 880
	p2 := newPhone(t)
	defer p2.close()
	before := c.browser.ear.count()
	if err := c.bridge().SetRemote(Remote{Addr: p2.addr(), Codec: PCMU, EventPT: sipEventPT}); err != nil {
		t.Fatal(err)
	}
	// The new far end has its own SSRC, sequence and timestamp, far from
	// the first one's.
	p2.talkFrom(secondHz, 0xdeadbeef, 40000, 1<<31, c.bridge().LocalAddr())
	eventually(t, "the second far end's tone", func() bool { return c.browser.ear.heard(secondHz) })
	eventually(t, "the old phone to hear the browser no more", func() bool {
		n := c.phone.ear.count()
		time.Sleep(100 * time.Millisecond)
		return c.phone.ear.count() == n
	})
	eventually(t, "the new phone to hear the browser", func() bool { return p2.ear.heard(browserHz) })

	pk := c.browser.ear.snapshot()
	ssrc := pk[0].ssrc
	switched := false
	for i := 1; i < len(pk); i++ {
		if pk[i].ssrc != ssrc {
			t.Fatalf("packet %d: SSRC %#x, want %#x throughout", i, pk[i].ssrc, ssrc)
		}
		dseq := pk[i].seq - pk[i-1].seq
		dts := pk[i].ts - pk[i-1].ts
		if dseq != 1 {
			// Loopback loses nothing; a gap here is a rewriting bug.
			t.Fatalf("packet %d: sequence %d after %d", i, pk[i].seq, pk[i-1].seq)
		}
		if int32(dts) < 160 || dts > 8000*5 {
			t.Fatalf("packet %d: timestamp step %d, want a frame or the real gap (< 5 s)", i, int32(dts))
		}
		if i >= before && pk[i].marker {
			switched = true
		}
	}
	if !switched {
		t.Error("no marker bit on the first packet of the new far end")
	}
	// A stray packet from the old far end is now a wrong source.
	eventually(t, "the old phone's packets to count as wrong source", func() bool {
		return c.bridge().Stats().WrongSource > 0
	})
}

// talkFrom is talk with a chosen SSRC, sequence and timestamp.
func (p *phone) talkFrom(freq float64, ssrc uint32, seq uint16, ts uint32, dst netip.AddrPort) {
	p.to.Store(&dst)
	buf := make([]byte, maxPacket)
	v := &voice{ssrc: ssrc, seq: seq, ts: ts, pt: uint8(PCMU), evPT: sipEventPT,
		events: make(chan byte, 4), stop: make(chan struct{}), done: make(chan struct{})}
	v.setTone(freq)
	p.voice = v
	go v.run(func(h *rtp.Header, payload []byte, _ bool) {
		n, err := h.MarshalTo(buf)
		if err != nil {
			return
		}
		n += copy(buf[n:], payload)
		_, _ = p.conn.WriteToUDPAddrPort(buf[:n], *p.to.Load())
	})
}

func TestSpoofedSourceDropped(t *testing.T) {
	checkGoroutines(t)
	c := newCall(t, nil, browserHz, phoneHz)
	eventually(t, "the phone's tone", func() bool { return c.browser.ear.heard(phoneHz) })

	// A spoofer on another port sends well-formed PCMU at 1 kHz, louder
	// and at twice the rate of the real phone.
	const spoofHz = 1000
	spoof := newPhone(t)
	defer spoof.close()
	spoof.talk(spoofHz, PCMU, c.bridge().LocalAddr())
	eventually(t, "spoofed packets to be counted", func() bool { return c.bridge().Stats().WrongSource >= 25 })
	c.browser.ear.reset()
	eventually(t, "the real phone's tone after the spoofing", func() bool { return c.browser.ear.heard(phoneHz) })
	if c.browser.ear.heard(spoofHz) {
		t.Fatal("the browser heard the spoofer")
	}
	for _, p := range spoof.ear.snapshot() {
		t.Fatalf("the bridge sent %+v to the spoofer", p)
	}
}

func TestGarbageDropped(t *testing.T) {
	checkGoroutines(t)
	c := newCall(t, nil, browserHz, phoneHz)
	eventually(t, "the phone's tone", func() bool { return c.browser.ear.heard(phoneHz) })

	// Garbage from the phone's own address: the source check passes, the
	// content checks must not.
	dst := c.bridge().LocalAddr()
	send := func(b []byte) {
		if _, err := c.phone.conn.WriteToUDPAddrPort(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	rr := []byte{0x81, 201, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	garbage := [][]byte{
		{},                               // empty datagram
		{0x80, 0},                        // truncated header
		[]byte("GET / HTTP/1.1\r\n\r\n"), // not RTP at all
		{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, // STUN binding request
		{0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0xff, 0xff},                         // extension longer than the packet
		{0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 200},                                      // padding longer than the packet
		{0x8f, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1},                                                 // 15 CSRCs announced, none there
	}
	before := c.bridge().Stats()
	for range 10 {
		for _, g := range garbage {
			send(g)
		}
		send(rr)
		send([]byte{0x80, 13, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x40}) // comfort noise, not negotiated
	}
	eventually(t, "garbage to be counted", func() bool {
		s := c.bridge().Stats()
		return s.Malformed-before.Malformed >= 60 && s.RTCP-before.RTCP >= 10 && s.UnknownPayload-before.UnknownPayload >= 10
	})
	c.browser.ear.reset()
	eventually(t, "the tone to carry on after the garbage", func() bool { return c.browser.ear.heard(phoneHz) })
	eventually(t, "the phone to keep hearing the browser", func() bool { return c.phone.ear.heard(browserHz) })
}

func TestLatching(t *testing.T) {
	checkGoroutines(t)
	f := testFactory(t)
	b := newBrowser(t, true)
	leg, err := connect(t, f, b, &BridgeConfig{Latch: true})
	if err != nil {
		t.Fatal(err)
	}
	p := newPhone(t)
	c := &call{browser: b, leg: leg, phone: p}
	t.Cleanup(c.close)

	// The SDP names an address the phone does not send from (a NAT
	// rewrote it): a closed port on loopback.
	hole, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	sdpAddr := hole.LocalAddr().(*net.UDPAddr).AddrPort()
	hole.Close()
	if err := leg.Bridge().SetRemote(Remote{Addr: sdpAddr, Codec: PCMU, EventPT: sipEventPT}); err != nil {
		t.Fatal(err)
	}
	b.talk(browserHz)
	p.talk(phoneHz, PCMU, leg.Bridge().LocalAddr())
	eventually(t, "the bridge to latch onto the phone", func() bool {
		_, addr, _ := leg.Bridge().Remote()
		return addr == p.addr()
	})
	eventually(t, "the browser to hear the phone", func() bool { return b.ear.heard(phoneHz) })
	eventually(t, "the latched phone to hear the browser", func() bool { return p.ear.heard(browserHz) })

	spoof := newPhone(t)
	defer spoof.close()
	spoof.talk(1000, PCMU, leg.Bridge().LocalAddr())
	eventually(t, "a late source to be refused once latched", func() bool { return leg.Bridge().Stats().WrongSource >= 10 })
	if _, addr, _ := leg.Bridge().Remote(); addr != p.addr() {
		t.Fatalf("re-latched to %v", addr)
	}
}

func TestDTMFBothWays(t *testing.T) {
	checkGoroutines(t)
	c := newCall(t, nil, browserHz, phoneHz)
	eventually(t, "audio both ways", func() bool { return c.phone.ear.heard(browserHz) && c.browser.ear.heard(phoneHz) })

	c.browser.voice.events <- 5 // '5'
	c.phone.voice.events <- 11  // '#'
	eventually(t, "the phone to get the browser's event as PT 101", func() bool { return len(c.phone.ear.events()) >= 6 })
	eventually(t, "the browser to get the phone's event as its PT", func() bool { return len(c.browser.ear.events()) >= 6 })
	for _, e := range c.phone.ear.events() {
		if e != 5 {
			t.Fatalf("phone got event %d, want 5", e)
		}
	}
	for _, e := range c.browser.ear.events() {
		if e != 11 {
			t.Fatalf("browser got event %d, want 11", e)
		}
	}
	// All packets of one event share its start timestamp (RFC 4733 §2.5.1.2).
	var ts []uint32
	for _, p := range c.browser.ear.snapshot() {
		if p.pt == browserEventPT {
			ts = append(ts, p.ts)
		}
	}
	for _, x := range ts {
		if x != ts[0] {
			t.Fatalf("event timestamps %v, want all equal", ts)
		}
	}
	if s := c.bridge().Stats(); s.EventsToSIP < 6 || s.EventsToBrowser < 6 {
		t.Fatalf("event counters: %+v", s)
	}
}

func TestHoldGatesMedia(t *testing.T) {
	checkGoroutines(t)
	c := newCall(t, nil, browserHz, phoneHz)
	br := c.bridge()
	eventually(t, "audio both ways", func() bool { return c.phone.ear.heard(browserHz) && c.browser.ear.heard(phoneHz) })

	br.SetDirection(Inactive)
	// Each direction is one goroutine handling packets in order: once it
	// has held one back, it forwards no more.
	g := br.Stats()
	eventually(t, "both directions to see the hold", func() bool {
		s := br.Stats()
		return s.GatedToSIP > g.GatedToSIP && s.GatedToBrowser > g.GatedToBrowser
	})
	held := br.Stats()
	c.browser.ear.reset()
	c.phone.ear.reset()
	eventually(t, "a second of held-back audio", func() bool {
		s := br.Stats()
		return s.GatedToSIP-held.GatedToSIP >= 50 && s.GatedToBrowser-held.GatedToBrowser >= 50
	})
	if s := br.Stats(); s.ToSIP != held.ToSIP || s.ToBrowser != held.ToBrowser {
		t.Fatalf("forwarded while inactive: %+v, held at %+v", s, held)
	}
	if c.browser.ear.heard(phoneHz) || c.phone.ear.heard(browserHz) {
		t.Fatal("audio heard on hold")
	}

	// recvonly: the SIP peer's audio (music on hold, say) reaches the
	// browser, the browser's does not reach the SIP peer.
	br.SetDirection(RecvOnly)
	eventually(t, "the browser to hear the phone while recvonly", func() bool { return c.browser.ear.heard(phoneHz) })
	if c.phone.ear.count() != 0 {
		t.Fatal("the phone heard the browser while recvonly")
	}

	br.SetDirection(SendRecv)
	eventually(t, "audio both ways after resume", func() bool { return c.phone.ear.heard(browserHz) && c.browser.ear.heard(phoneHz) })
}

func TestOfferWithoutG711Refused(t *testing.T) {
	checkGoroutines(t)
	f := testFactory(t)
	b := newBrowser(t, false)
	defer b.close()
	_, err := connect(t, f, b, nil)
	if !errors.Is(err, ErrNoG711) {
		t.Fatalf("Accept(Opus-only offer) = %v, want ErrNoG711", err)
	}
}

func TestCloseTearsDown(t *testing.T) {
	checkGoroutines(t)
	f := testFactory(t)
	b := newBrowser(t, true)
	defer b.close()
	leg, err := connect(t, f, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := newPhone(t)
	defer p.close()
	if err := leg.Bridge().SetRemote(Remote{Addr: p.addr(), Codec: PCMU}); err != nil {
		t.Fatal(err)
	}
	b.talk(browserHz)
	eventually(t, "the phone to hear the browser", func() bool { return p.ear.heard(browserHz) })
	addr := leg.Bridge().LocalAddr()
	if err := leg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := leg.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// The RTP port is free again: the socket really closed.
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatalf("RTP port still bound after Close: %v", err)
	}
	c.Close()
	if err := leg.Bridge().Attach(nil, nil); err == nil {
		t.Fatal("Attach after Close succeeded")
	}
}

// TestRTCPReports: the gateway leg sends RTCP sender reports about its
// stream and receiver reports about the browser's (RFC 3550 §6.4), which
// the browser's getStats turns into round-trip time, loss and jitter.
func TestRTCPReports(t *testing.T) {
	checkGoroutines(t)
	c := newCall(t, nil, browserHz, phoneHz)
	eventually(t, "a sender report from the gateway", func() bool { return c.browser.senderReports.Load() > 0 })
	eventually(t, "a receiver report from the gateway", func() bool { return c.browser.receiverReports.Load() > 0 })
}

// TestLatchIgnoresOldFarEnd: after SetRemote in latching mode, packets the
// previous far end still sends must not capture the latch.
func TestLatchIgnoresOldFarEnd(t *testing.T) {
	checkGoroutines(t)
	c := newCall(t, &BridgeConfig{Latch: true}, browserHz, phoneHz)
	eventually(t, "the first far end's tone", func() bool { return c.browser.ear.heard(phoneHz) })

	p2 := newPhone(t)
	defer p2.close()
	if err := c.bridge().SetRemote(Remote{Addr: p2.addr(), Codec: PCMU, EventPT: sipEventPT}); err != nil {
		t.Fatal(err)
	}
	// The old phone keeps talking for a while before the new one starts.
	eventually(t, "the old far end to be refused", func() bool { return c.bridge().Stats().WrongSource >= 10 })
	if _, addr, _ := c.bridge().Remote(); addr != p2.addr() {
		t.Fatalf("latched to %v, want the new far end %v", addr, p2.addr())
	}
	p2.talkFrom(880, 0xfeed, 1, 1, c.bridge().LocalAddr())
	eventually(t, "the new far end's tone", func() bool { return c.browser.ear.heard(880) })
}

// TestReofferKeepsMedia: a browser re-offer (here an ICE restart) is
// answered on the same leg; audio carries on, toward the browser on the
// same SSRC, with no new track.
func TestReofferKeepsMedia(t *testing.T) {
	checkGoroutines(t)
	c := newCall(t, nil, browserHz, phoneHz)
	eventually(t, "audio both ways", func() bool { return c.phone.ear.heard(browserHz) && c.browser.ear.heard(phoneHz) })

	offer, err := c.browser.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(c.browser.pc)
	if err := c.browser.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	answer, err := c.leg.AcceptGathered(ctx, *c.browser.pc.LocalDescription())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.browser.pc.SetRemoteDescription(answer); err != nil {
		t.Fatal(err)
	}
	c.browser.ear.reset()
	c.phone.ear.reset()
	eventually(t, "audio both ways after the re-offer", func() bool { return c.phone.ear.heard(browserHz) && c.browser.ear.heard(phoneHz) })
	pk := c.browser.ear.snapshot()
	for _, p := range pk {
		if p.ssrc != pk[0].ssrc {
			t.Fatal("SSRC toward the browser changed across the re-offer")
		}
	}
	if n := len(c.leg.PeerConnection().GetTransceivers()); n != 1 {
		t.Fatalf("%d transceivers after the re-offer, want 1", n)
	}
}

// TestSIPSideRTCP: the bridge reports to the SIP peer on its RTCP port —
// a sender report about the browser's audio it relays, with a reception
// block about the phone's stream — takes the phone's receiver report,
// and says BYE on Close.
func TestSIPSideRTCP(t *testing.T) {
	checkGoroutines(t)
	c := newCall(t, &BridgeConfig{RTCPInterval: 200 * time.Millisecond}, browserHz, phoneHz)
	rtcpConn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rtcpConn.Close()
	phoneRTCP := rtcpConn.LocalAddr().(*net.UDPAddr).AddrPort()
	if err := c.bridge().SetRemote(Remote{Addr: c.phone.addr(), Codec: PCMU, EventPT: sipEventPT, RTCPAddr: phoneRTCP}); err != nil {
		t.Fatal(err)
	}
	if c.bridge().LocalAddr().Port()%2 != 0 {
		t.Errorf("RTP port %d is odd (RFC 3550 §11)", c.bridge().LocalAddr().Port())
	}
	bridgeRTCP := netip.AddrPortFrom(c.bridge().LocalAddr().Addr(), c.bridge().LocalAddr().Port()+1)

	got := make(chan []rtcp.Packet, 64)
	go func() {
		buf := make([]byte, maxPacket)
		for {
			n, src, err := rtcpConn.ReadFromUDPAddrPort(buf)
			if err != nil {
				close(got)
				return
			}
			if src != bridgeRTCP {
				t.Errorf("RTCP from %v, want the bridge's RTCP socket %v", src, bridgeRTCP)
			}
			if pk, err := rtcp.Unmarshal(buf[:n]); err == nil {
				got <- pk
			}
		}
	}()
	var sr *rtcp.SenderReport
	eventually(t, "a sender report with a reception block", func() bool {
		select {
		case pk := <-got:
			if r, ok := pk[0].(*rtcp.SenderReport); ok && len(r.Reports) == 1 && r.PacketCount > 0 {
				sr = r
			}
		default:
		}
		return sr != nil
	})
	if sr.Reports[0].SSRC != c.phone.voice.ssrc {
		t.Errorf("reception block about SSRC %#x, want the phone's %#x", sr.Reports[0].SSRC, c.phone.voice.ssrc)
	}

	// The phone reports 25/256 loss of the bridge's stream.
	rr, err := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: c.phone.voice.ssrc,
		Reports: []rtcp.ReceptionReport{{SSRC: sr.SSRC, FractionLost: 25, Jitter: 12}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rtcpConn.WriteToUDPAddrPort(rr, bridgeRTCP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the peer's report to be read", func() bool {
		s := c.bridge().Stats()
		return s.PeerFractionLost == 25 && s.PeerJitter == 12 && s.RTCP > 0
	})

	c.browser.close()
	if err := c.leg.Close(); err != nil {
		t.Fatal(err)
	}
	bye := false
	deadline := time.After(waitLong)
	for !bye {
		var pk []rtcp.Packet
		select {
		case pk = <-got:
		case <-deadline:
			t.Fatal("no BYE on Close")
		}
		for _, p := range pk {
			if g, ok := p.(*rtcp.Goodbye); ok && len(g.Sources) == 1 && g.Sources[0] == sr.SSRC {
				bye = true
			}
		}
	}
}

func TestBridgePorts(t *testing.T) {
	checkGoroutines(t)
	// A configured range: every bridge gets an even RTP port in it with
	// RTCP on the next one, until the range is full.
	const lo, hi = 47000, 47009 // five pairs: 47000 … 47008
	var open []*Bridge
	defer func() {
		for _, b := range open {
			b.Close()
		}
	}()
	for {
		b, err := NewBridge(&BridgeConfig{PortMin: lo, PortMax: hi})
		if err != nil {
			break
		}
		open = append(open, b)
		p := b.LocalAddr().Port()
		if p < lo || p+1 > hi || p%2 != 0 {
			t.Fatalf("RTP port %d outside %d-%d or odd", p, lo, hi)
		}
	}
	// Other processes may hold some of these ports; at most five fit.
	if len(open) > 5 {
		t.Fatalf("%d bridges in a five-pair range", len(open))
	}
	if _, err := NewBridge(&BridgeConfig{LocalAddr: netip.MustParseAddrPort("127.0.0.1:47001")}); err == nil {
		t.Fatal("odd fixed RTP port accepted")
	}
}

// TestGatewayOffers: the gateway may speak first (Offer/SetAnswer); the
// call then works as when the browser offers.
func TestGatewayOffers(t *testing.T) {
	checkGoroutines(t)
	f := testFactory(t)
	b := newBrowser(t, true)
	leg, err := f.NewLeg(&BridgeConfig{Codec: PCMA})
	if err != nil {
		t.Fatal(err)
	}
	p := newPhone(t)
	c := &call{browser: b, leg: leg, phone: p}
	t.Cleanup(c.close)

	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	offer, err := leg.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	connected := make(chan struct{})
	var once sync.Once
	b.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	if err := b.pc.SetRemoteDescription(offer); err != nil {
		t.Fatal(err)
	}
	answer, err := b.pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := leg.SetAnswer(*b.pc.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-time.After(waitLong):
		t.Fatal("browser never connected")
	}
	law, _ := leg.Bridge().Codec()
	if law != PCMA {
		t.Fatalf("law %v, want the preferred PCMA", law)
	}
	if err := leg.Bridge().SetRemote(Remote{Addr: p.addr(), Codec: law, EventPT: sipEventPT}); err != nil {
		t.Fatal(err)
	}
	b.talk(browserHz)
	p.talk(phoneHz, law, leg.Bridge().LocalAddr())
	eventually(t, "the phone to hear the browser", func() bool { return p.ear.heard(browserHz) })
	eventually(t, "the browser to hear the phone", func() bool { return b.ear.heard(phoneHz) })
	if n := len(leg.PeerConnection().GetTransceivers()); n != 1 {
		t.Fatalf("%d transceivers, want 1", n)
	}
}
