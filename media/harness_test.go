package media

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/media/tone"
)

// waitLong bounds every wait for an event. Tests never fail because
// something was slow, only because it never happened: the deadline is far
// beyond any loaded machine's delay.
const waitLong = 30 * time.Second

var loopback = netip.MustParseAddr("127.0.0.1")

// eventually polls cond until it holds or waitLong passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %v", what, waitLong)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkGoroutines fails the test if goroutines started during it are
// still running when it ends (in the spirit of pion's test.CheckRoutines).
// Register it first so its cleanup runs last.
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(waitLong)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:n])
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func testFactory(t testing.TB) *Factory {
	t.Helper()
	f, err := NewFactory(&Options{IPs: []netip.Addr{loopback}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// browserEventPT is Chrome's telephone-event/8000 payload type, deliberately
// not the gateway's 101, so payload type mapping is exercised.
const browserEventPT = 126

// browserAPI is a pion API that offers like Chrome: Opus first, then the
// G.711 laws and telephone-event. withG711=false offers Opus only.
func browserAPI(t testing.TB, withG711 bool) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	codecs := []webrtc.RTPCodecParameters{{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType:        111,
	}}
	if withG711 {
		codecs = append(codecs, codecParameters(PCMU), codecParameters(PCMA), webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: MimeTypeTelephoneEvent, ClockRate: 8000, Channels: 1},
			PayloadType:        browserEventPT,
		})
	}
	for _, c := range codecs {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	se := webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
}

// received is one packet as seen by a test endpoint.
type received struct {
	pt     uint8
	marker bool
	seq    uint16
	ts     uint32
	ssrc   uint32
	event  byte // RFC 4733 event code, for event packets
	at     time.Time
	src    netip.AddrPort
}

// ear records what an endpoint hears: every packet's header, the decoded
// audio in a tone detector, and the events.
type ear struct {
	notify atomic.Pointer[chan time.Time] // when set, gets each packet's arrival time instead

	mu      sync.Mutex
	packets []received
	det     *tone.Detector
	eventPT uint8
}

func newEar(eventPT uint8) *ear { return &ear{det: tone.NewDetector(400), eventPT: eventPT} }

func (e *ear) hear(h *rtp.Header, payload []byte, src netip.AddrPort) {
	if n := e.notify.Load(); n != nil {
		*n <- time.Now()
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r := received{pt: h.PayloadType, marker: h.Marker, seq: h.SequenceNumber, ts: h.Timestamp, ssrc: h.SSRC, at: time.Now(), src: src}
	if h.PayloadType == e.eventPT && len(payload) >= 4 {
		r.event = payload[0]
	} else {
		e.det.Write(h.PayloadType, payload)
	}
	e.packets = append(e.packets, r)
}

func (e *ear) heard(freq float64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.det.Heard(freq)
}

func (e *ear) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.packets)
}

func (e *ear) snapshot() []received {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]received(nil), e.packets...)
}

func (e *ear) events() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []byte
	for _, p := range e.packets {
		if p.pt == e.eventPT {
			out = append(out, p.event)
		}
	}
	return out
}

func (e *ear) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.det.Reset()
	e.packets = nil
}

// voice paces 20 ms G.711 frames of a tone into a send function, with RFC
// 4733 events spliced in on request.
type voice struct {
	freq   atomic.Uint64 // math.Float64bits of the tone; 0 = silent
	ssrc   uint32
	seq    uint16
	ts     uint32
	pt     uint8
	evPT   uint8
	gen    *tone.Generator
	genHz  float64
	events chan byte
	once   sync.Once
	stop   chan struct{}
	done   chan struct{}
}

func startVoice(freq float64, pt, evPT uint8, send func(h *rtp.Header, payload []byte, event bool)) *voice {
	v := &voice{ssrc: uint32(time.Now().UnixNano()), seq: 1000, ts: 5000, pt: pt, evPT: evPT,
		events: make(chan byte, 4), stop: make(chan struct{}), done: make(chan struct{})}
	v.setTone(freq)
	go v.run(send)
	return v
}

func (v *voice) setTone(freq float64) { v.freq.Store(uint64(freq)) }

func (v *voice) close() {
	v.once.Do(func() { close(v.stop) })
	<-v.done
}

func (v *voice) run(send func(h *rtp.Header, payload []byte, event bool)) {
	defer close(v.done)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	payload := make([]byte, tone.FrameSamples)
	var h rtp.Header
	for {
		select {
		case <-v.stop:
			return
		case ev := <-v.events:
			v.sendEvent(ev, &h, send)
		case <-tick.C:
			if f := float64(v.freq.Load()); f != v.genHz {
				v.gen, v.genHz = tone.NewGenerator(f, 0.5), f
			}
			v.gen.Encode(payload, v.pt)
			h = rtp.Header{Version: 2, PayloadType: v.pt, SequenceNumber: v.seq, Timestamp: v.ts, SSRC: v.ssrc}
			send(&h, payload, false)
			v.seq++
			v.ts += tone.FrameSamples
		}
	}
}

// sendEvent sends one short RFC 4733 event: a start packet with the
// marker, two updates and the end packet three times (§2.5.1.4), all with
// the event's start timestamp (§2.5.1.2).
func (v *voice) sendEvent(code byte, h *rtp.Header, send func(h *rtp.Header, payload []byte, event bool)) {
	start := v.ts
	for i := range 6 {
		end := i >= 3
		dur := uint16(min(i+1, 4) * tone.FrameSamples)
		p := []byte{code, 10, 0, 0}
		if end {
			p[1] |= 0x80
		}
		binary.BigEndian.PutUint16(p[2:], dur)
		*h = rtp.Header{Version: 2, PayloadType: v.evPT, Marker: i == 0, SequenceNumber: v.seq, Timestamp: start, SSRC: v.ssrc}
		send(h, p, true)
		v.seq++
		time.Sleep(20 * time.Millisecond)
	}
	v.ts += 4 * tone.FrameSamples
}

// browser is a pion PeerConnection playing the browser: it sends a tone
// through a Track and listens with an ear.
type browser struct {
	pc    *webrtc.PeerConnection
	track *Track
	ear   *ear
	voice *voice
	wg    sync.WaitGroup

	// RTCP the gateway sent: sender reports about its stream (read from
	// our receiver) and receiver reports about ours (from our sender).
	senderReports, receiverReports atomic.Int64
}

func newBrowser(t testing.TB, withG711 bool) *browser {
	t.Helper()
	pc, err := browserAPI(t, withG711).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{pc: pc, track: NewTrack("mic", "browser", PCMU), ear: newEar(browserEventPT)}
	tr, err := pc.AddTransceiverFromTrack(b.track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
	if err != nil {
		t.Fatal(err)
	}
	b.wg.Add(1)
	go b.countRTCP(tr.Sender().ReadRTCP)
	pc.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		b.wg.Add(2)
		go b.countRTCP(r.ReadRTCP)
		go func() {
			defer b.wg.Done()
			buf := make([]byte, maxPacket)
			var p rtp.Packet
			for {
				n, _, err := tr.Read(buf)
				if err != nil {
					return
				}
				if p.Unmarshal(buf[:n]) == nil {
					b.ear.hear(&p.Header, p.Payload, netip.AddrPort{})
				}
			}
		}()
	})
	return b
}

func (b *browser) countRTCP(read func() ([]rtcp.Packet, interceptor.Attributes, error)) {
	defer b.wg.Done()
	for {
		pkts, _, err := read()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.SenderReport:
				b.senderReports.Add(1)
			case *rtcp.ReceiverReport:
				b.receiverReports.Add(1)
			}
		}
	}
}

// talk starts the browser's microphone: a tone as PCMU.
func (b *browser) talk(freq float64) {
	law, _ := b.track.Codec()
	b.voice = startVoice(freq, uint8(law), browserEventPT, func(h *rtp.Header, payload []byte, event bool) {
		_ = b.track.WriteRTP(h, payload, event)
	})
}

func (b *browser) close() {
	if b.voice != nil {
		b.voice.close()
	}
	_ = b.pc.Close()
	b.wg.Wait()
}

// phone is a plain RTP endpoint on loopback playing the SIP phone.
type phone struct {
	conn  *net.UDPConn
	ear   *ear
	voice *voice
	to    atomic.Pointer[netip.AddrPort]
	done  chan struct{}
}

// sipEventPT is the SIP side's telephone-event payload type.
const sipEventPT = 101

func newPhone(t testing.TB) *phone {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &phone{conn: c, ear: newEar(sipEventPT), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		buf := make([]byte, maxPacket)
		var pk rtp.Packet
		for {
			n, src, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if pk.Unmarshal(buf[:n]) == nil {
				p.ear.hear(&pk.Header, pk.Payload, src)
			}
		}
	}()
	return p
}

func (p *phone) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// talk sends a tone to dst as codec pt.
func (p *phone) talk(freq float64, pt Codec, dst netip.AddrPort) {
	p.to.Store(&dst)
	buf := make([]byte, maxPacket)
	p.voice = startVoice(freq, uint8(pt), sipEventPT, func(h *rtp.Header, payload []byte, _ bool) {
		n, err := h.MarshalTo(buf)
		if err != nil {
			return
		}
		n += copy(buf[n:], payload)
		_, _ = p.conn.WriteToUDPAddrPort(buf[:n], *p.to.Load())
	})
}

func (p *phone) close() {
	if p.voice != nil {
		p.voice.close()
	}
	_ = p.conn.Close()
	<-p.done
}

// call is one bridged call: browser ⇄ Leg/Bridge ⇄ phone.
type call struct {
	browser *browser
	leg     *Leg
	phone   *phone
}

func (c *call) bridge() *Bridge { return c.leg.Bridge() }

// connect negotiates the browser with a new leg (non-trickle, like pion's
// signalPair) and waits until ICE and DTLS are up.
func connect(t testing.TB, f *Factory, b *browser, cfg *BridgeConfig) (*Leg, error) {
	t.Helper()
	leg, err := f.NewLeg(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := negotiate(t, leg, b); err != nil {
		_ = leg.Close()
		return nil, err
	}
	return leg, nil
}

// negotiate answers the browser's offer with leg and waits until ICE and
// DTLS are up.
func negotiate(t testing.TB, leg *Leg, b *browser) error {
	t.Helper()
	offer, err := b.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	answer, err := leg.AcceptGathered(ctx, *b.pc.LocalDescription())
	if err != nil {
		return err
	}
	connected := make(chan struct{})
	var once sync.Once
	b.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	if err := b.pc.SetRemoteDescription(answer); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-time.After(waitLong):
		t.Fatalf("browser never connected")
	}
	return nil
}

// newCall connects a browser and a phone through a leg, both talking:
// the browser at browserHz, the phone at phoneHz.
func newCall(t testing.TB, cfg *BridgeConfig, browserHz, phoneHz float64) *call {
	t.Helper()
	c := newQuietCall(t, cfg)
	c.browser.talk(browserHz)
	codec, _ := c.bridge().Codec()
	c.phone.talk(phoneHz, codec, c.bridge().LocalAddr())
	return c
}

// newQuietCall connects a browser and a phone through a leg, silent.
func newQuietCall(t testing.TB, cfg *BridgeConfig) *call {
	t.Helper()
	f := testFactory(t)
	b := newBrowser(t, true)
	leg, err := connect(t, f, b, cfg)
	if err != nil {
		b.close()
		t.Fatal(err)
	}
	p := newPhone(t)
	c := &call{browser: b, leg: leg, phone: p}
	t.Cleanup(c.close)
	codec, ok := leg.Bridge().Codec()
	if !ok {
		t.Fatal("no codec negotiated with the browser")
	}
	if err := leg.Bridge().SetRemote(Remote{Addr: p.addr(), Codec: codec, EventPT: sipEventPT}); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *call) close() {
	c.browser.close()
	_ = c.leg.Close()
	c.phone.close()
}
