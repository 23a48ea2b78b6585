package gateway

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/browsertest"
	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/internal/freeport"
	"github.com/parkway/parkway/media"
	"github.com/parkway/parkway/media/g711"
	"github.com/parkway/parkway/media/tone"
	"github.com/parkway/parkway/metrics"
	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/pool"
	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/siptest"
)

// Helpers for the calls_sip, calls_media and calls_bench files: a gateway over real
// pools with SIP phones beside the browsers (siptest phones, SIPp, and an RTP endpoint
// the test owns for a SIPp-signalled phone), and a "tab" — a native pion browser that
// can also send and hear RFC 4733 DTMF, which browser_test.go's browser cannot (pion's
// TrackLocalStaticRTP stamps every packet with the audio payload type).

// phoneUsers are SIP-only users of the pools (SIPp and siptest phones), beside the
// demo users the gateway signs in.
var phoneUsers = []pool.User{
	{Name: "erin", Password: "erin-sip"},
	{Name: "frank", Password: "frank-sip"},
	{Name: "grace", Password: "grace-sip"},
}

const (
	carolHz = 1500.0 // a third voice, far from aliceHz and bobHz
	phoneHz = 1800.0 // a SIP phone's voice
	spoofHz = 2600.0 // what a spoofer sends: must never be heard
)

// rigOptions shapes a callRig.
type rigOptions struct {
	realDR    bool             // a real dr.Controller probing the pools (failover tests)
	users     []pool.User      // pool users besides the demo users and phoneUsers
	demoUsers []string         // gateway sign-in names; nil means the demo users
	metrics   *metrics.Gateway // the controller's and the gateway's; nil: the gateway's own
}

// callRig is a gateway that carries calls over real pools on loopback, with MD5 digest
// first so SIPp can register.
type callRig struct {
	g            *testGateway
	poolA, poolB *pool.Pool
	m            *ua.Manager
	ctl          *dr.Controller // nil unless realDR
}

func newCallRig(t testing.TB, o rigOptions) *callRig {
	t.Helper()
	r := &callRig{}
	// The pools' goroutines carry a profiler label, so that the calls benchmark can tell
	// the gateway's CPU from theirs (cpusplit_bench_test.go).
	pprof.Do(context.Background(), pprof.Labels(cpuSide, sidePools), func(context.Context) {
		r.poolA, r.poolB = rigPools(t, o.users)
	})
	creds := ua.StaticCredentials{}
	for _, u := range append(append([]pool.User(nil), pool.DemoUsers...), o.users...) {
		creds[u.Name] = u.Password
	}
	m, err := ua.NewManager(ua.Config{
		Pools:       []ua.Pool{{Name: r.poolA.Name(), Addr: r.poolA.Addr()}, {Name: r.poolB.Name(), Addr: r.poolB.Addr()}},
		Active:      r.poolA.Name(),
		Credentials: creds,
		Logger:      quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	r.m = m
	if o.realDR {
		ctl, err := dr.New(dr.Config{
			Home:       dr.Pool{Name: r.poolA.Name(), SIPAddr: r.poolA.Addr()},
			Backup:     dr.Pool{Name: r.poolB.Name(), SIPAddr: r.poolB.Addr()},
			Redirector: m,
			Logger:     quietLogger(),
			Metrics:    o.metrics,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		runDone := make(chan struct{})
		go func() { defer close(runDone); ctl.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-runDone })
		r.ctl = ctl
		poll(t, "both pools healthy", time.Minute, func() bool {
			return healthy(ctl.Snapshot(), r.poolA.Name()) && healthy(ctl.Snapshot(), r.poolB.Name())
		})
	}
	f := testFactory(t)
	r.g = startGateway(t, func(c *Config) {
		c.SIP, c.Media, c.SignOutGrace = m, f, time.Hour
		if r.ctl != nil {
			c.Controller = r.ctl
		}
		if o.demoUsers != nil {
			c.DemoUsers = o.demoUsers
		}
		c.Metrics = o.metrics
	})
	return r
}

// rigPools starts pool-a and pool-b as the demo has them, plus phone users and MD5
// offered first (SIPp answers the first challenge and knows only MD5).
func rigPools(t testing.TB, extra []pool.User) (a, b *pool.Pool) {
	t.Helper()
	cfgA, cfgB := demoPoolConfigs(t)
	return startPoolPair(t, cfgA, cfgB, func(c *pool.Config) {
		c.Users = append(append(c.Users, phoneUsers...), extra...)
		c.DigestAlgorithms = []string{"MD5", "SHA-256"}
	})
}

// phoneCallsAlice has phone call alice at pool-a and answers on her tab ws (request
// id ref); it returns her call's id, her tab's leg and the phone's side of the call.
func phoneCallsAlice(ctx context.Context, t *testing.T, r *callRig, ws *client, ref string, phone *siptest.Phone) (string, *tab, *siptest.Call) {
	t.Helper()
	type placed struct {
		c   *siptest.Call
		err error
	}
	done := make(chan placed, 1)
	go func() {
		c, err := phone.Call(ctx, "sip:alice@"+r.poolA.Domain())
		done <- placed{c, err}
	}()
	id, leg := answerOn(t, ws, ref)
	var pc placed
	select {
	case pc = <-done:
	case <-ctx.Done():
		t.Fatal("the phone's call to alice was never answered")
	}
	if pc.err != nil {
		t.Fatal(pc.err)
	}
	return id, leg, pc.c
}

// freeUDPPort returns a UDP port on 127.0.0.1 such that port+2 is free too (SIPp's
// RTP echo binds the audio port and the video port two above it).
// The port lies outside the kernel's ephemeral range: between here and SIPp binding it,
// no other test's port-0 socket can take it (one did: "Unable to bind main socket").
func freeUDPPort(t testing.TB) int {
	t.Helper()
	port, err := freeport.UDPAndTCP("127.0.0.1", freeport.Default(), func(p int) bool {
		b, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+2)))
		if err != nil {
			return true
		}
		b.Close()
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// poll waits for cond; a minute is for what never happens, not a slow machine.
func poll(t testing.TB, what string, max time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(max)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", max, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signedIn connects a tab's websocket for each user and waits until each is
// registered at the active pool and followed by the gateway.
func (r *callRig) signedIn(t *testing.T, users ...string) []*client {
	t.Helper()
	cs := make([]*client, len(users))
	for i, u := range users {
		cs[i], _ = r.g.connect(t, u)
	}
	waitFor(t, "everyone registered", func() bool {
		for _, u := range users {
			if len(r.poolA.Contacts(u)) == 0 || !r.g.phoneReady(u) {
				return false
			}
		}
		return true
	})
	return cs
}

// bridgeOf is the SIP-side bridge of user's call id, from the gateway's own table.
func (r *callRig) bridgeOf(user, id string) *media.Bridge {
	if leg := r.g.phones.Leg(user, id); leg != nil {
		return leg.Bridge()
	}
	return nil
}

// ---- calls over the websocket ----

// dialFrom has c call target (a user, a phone or an orbit when retrieve is set) with
// a fresh tab, and returns the call id once the tab's media is up.
func dialFrom(t *testing.T, c *client, ref, target string, retrieve bool) (string, *tab) {
	t.Helper()
	return dialWith(t, c, newTab(t), ref, target, retrieve)
}

func dialWith(t *testing.T, c *client, tb *tab, ref, target string, retrieve bool) (string, *tab) {
	t.Helper()
	req := &signaling.Request{Action: signaling.ActionCall, Target: target, SDP: tb.offer()}
	if retrieve {
		req = &signaling.Request{Action: signaling.ActionRetrieve, Orbit: target, SDP: tb.offer()}
	}
	c.send(request(ref, req))
	_, dialing := nextCall(t, c, "the answer SDP of "+ref, func(env signaling.Envelope, m *signaling.Call) bool {
		return env.ID == ref && m.SDP != ""
	})
	tb.answered(dialing.SDP)
	return dialing.ID, tb
}

// answerOn waits for a call to ring on c and answers it with a fresh tab.
func answerOn(t *testing.T, c *client, ref string) (string, *tab) {
	t.Helper()
	return answerWith(t, c, nil, ref)
}

// answerWith is answerOn with a given tab (nil: a fresh one, made once it rings).
func answerWith(t *testing.T, c *client, tb *tab, ref string) (string, *tab) {
	t.Helper()
	_, ringing := nextCall(t, c, "a call to ring", func(_ signaling.Envelope, m *signaling.Call) bool {
		return m.State == signaling.CallRinging
	})
	if tb == nil {
		tb = newTab(t)
	}
	c.send(request(ref, &signaling.Request{Action: signaling.ActionAnswer, Call: ringing.ID, SDP: tb.offer()}))
	_, ans := nextCall(t, c, "the answer SDP of "+ref, func(env signaling.Envelope, m *signaling.Call) bool {
		return env.ID == ref && m.SDP != ""
	})
	tb.answered(ans.SDP)
	return ringing.ID, tb
}

// untilState reads c until call id reaches state.
func untilState(t *testing.T, c *client, id string, state signaling.CallState) *signaling.Call {
	t.Helper()
	_, m := nextCall(t, c, fmt.Sprintf("call %s %s", id, state), func(_ signaling.Envelope, m *signaling.Call) bool {
		return m.ID == id && m.State == state
	})
	return m
}

// act sends one action about call id.
func act(c *client, ref string, a signaling.Action, id string) {
	c.send(request(ref, &signaling.Request{Action: a, Call: id}))
}

// parkCall has c park call id and returns the orbit the gateway reports.
func parkCall(t *testing.T, c *client, id string) string {
	t.Helper()
	act(c, "park-"+id, signaling.ActionPark, id)
	m := untilState(t, c, id, signaling.CallEnded)
	if m.Reason != "parked" || !parkwire.ValidOrbit(m.Orbit) {
		t.Fatalf("parked call %+v", m)
	}
	return m.Orbit
}

// ---- audio: tone, Goertzel and RFC 4733 on either end ----

// ear keeps the last second of what an end heard and the DTMF digits it received.
type ear struct {
	mu      sync.Mutex
	hist    [tone.SampleRate]int16
	pos     int
	filled  int
	packets int
	last    time.Time
	digits  []byte
	evTS    map[uint32]bool // events already counted, by RTP timestamp
	scratch [400]int16
}

func newEar() *ear { return &ear{evTS: map[uint32]bool{}} }

// hear takes one RTP packet: G.711 audio is decoded, an RFC 4733 event (any other
// payload type of 4n bytes, RFC 4733 §2.3) counts its digit once, at its end bit.
func (e *ear) hear(p *rtp.Packet, eventPT uint8) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case p.PayloadType == tone.PCMU || p.PayloadType == tone.PCMA:
		for _, b := range p.Payload {
			s := g711.DecodeUlaw(b)
			if p.PayloadType == tone.PCMA {
				s = g711.DecodeAlaw(b)
			}
			e.hist[e.pos] = s
			e.pos = (e.pos + 1) % len(e.hist)
		}
		e.filled = min(len(e.hist), e.filled+len(p.Payload))
		e.packets++
		e.last = time.Now()
	case p.PayloadType == eventPT && len(p.Payload) >= 4:
		if p.Payload[1]&0x80 != 0 && !e.evTS[p.Timestamp] {
			e.evTS[p.Timestamp] = true
			e.digits = append(e.digits, digitOf(p.Payload[0]))
		}
	}
}

// level is the largest share of energy at freq over any 50 ms of the last second.
func (e *ear) level(freq float64) float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	best := 0.0
	start := (e.pos - e.filled + len(e.hist)) % len(e.hist)
	for off := 0; off+len(e.scratch) <= e.filled; off += len(e.scratch) {
		var energy float64
		for i := range e.scratch {
			s := e.hist[(start+off+i)%len(e.hist)]
			e.scratch[i] = s
			energy += float64(s) * float64(s)
		}
		if energy/float64(len(e.scratch)) < 200*200/2 { // silence
			continue
		}
		best = max(best, tone.Power(e.scratch[:], freq))
	}
	return best
}

func (e *ear) heard(freq float64) bool { return e.level(freq) > 0.5 }

// quietFor reports whether no audio arrived for d.
func (e *ear) quietFor(d time.Duration) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return time.Since(e.last) >= d
}

func (e *ear) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.packets
}

func (e *ear) received() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return string(e.digits)
}

// forget drops what was heard, so what follows an event can be told from before.
func (e *ear) forget() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.filled, e.digits = 0, nil
}

// RFC 4733 §3.2: events 0–9, *, #, A–D.
const dtmfChars = "0123456789*#ABCD"

func digitOf(ev byte) byte {
	if int(ev) < len(dtmfChars) {
		return dtmfChars[ev]
	}
	return '?'
}

func eventOf(d byte) byte { return byte(strings.IndexByte(dtmfChars, d)) }

// mouth produces an end's outgoing stream: 20 ms PCMU frames of a tone, with queued
// DTMF digits sent as RFC 4733 events in their place (§2.5: the event's timestamp is
// its start, updates every 20 ms grow the duration, the end is sent three times).
type mouth struct {
	gen    *tone.Generator
	digits chan byte
	seq    uint16
	ts     uint32
	// the digit in progress
	cur   byte
	evTS  uint32
	frame int
	gap   int // frames of tone before the next digit
}

func newMouth(freq float64) *mouth {
	return &mouth{gen: tone.NewGenerator(freq, 0.5), digits: make(chan byte, 64), seq: 1, ts: 160}
}

const (
	digitFrames = 5 // 100 ms of event updates
	gapFrames   = 5 // 100 ms of tone between digits
)

// next returns the next packet; event says it is an RFC 4733 packet.
func (m *mouth) next(payload []byte) (h rtp.Header, out []byte, event bool) {
	h = rtp.Header{Version: 2, PayloadType: tone.PCMU, SequenceNumber: m.seq}
	m.seq++
	if m.cur == 0 && m.gap == 0 {
		select {
		case d := <-m.digits:
			m.cur, m.evTS, m.frame = d, m.ts, 0
		default:
		}
	}
	if m.cur != 0 {
		m.frame++
		dur := min(m.frame, digitFrames) * tone.FrameSamples
		end := m.frame > digitFrames
		h.Timestamp = m.evTS
		h.Marker = m.frame == 1
		out = payload[:4]
		out[0], out[1] = eventOf(m.cur), 10 // volume -10 dBm0
		if end {
			out[1] |= 0x80
		}
		binary.BigEndian.PutUint16(out[2:], uint16(dur))
		if m.frame == digitFrames+3 {
			m.cur, m.gap = 0, gapFrames
		}
		m.ts += tone.FrameSamples
		if end {
			m.ts -= tone.FrameSamples // the end packets take no new time
		}
		return h, out, true
	}
	if m.gap > 0 {
		m.gap--
	}
	h.Timestamp = m.ts
	m.ts += tone.FrameSamples
	out = m.gen.Encode(payload[:tone.FrameSamples], tone.PCMU)
	return h, out, false
}

// ---- tab: a browser with a DTMF keypad ----

// tab is a native pion PeerConnection offering like Chrome (Opus, G.711,
// telephone-event/8000 at browserEventPT), whose microphone is a media.Track so it can
// send RFC 4733 events beside the tone.
type tab struct {
	*ear
	*browsertest.Peer
	t         testing.TB
	pc        *webrtc.PeerConnection
	mic       *media.Track
	mouth     *mouth
	talking   atomic.Bool
	connected <-chan struct{} // closed once ICE and DTLS are up
}

func newTab(t testing.TB) *tab { return newTabWith(t, browserAPI(t, true)) }

// chromeAPI offers audio as Chrome does: Opus, RED, G.722, PCMU, PCMA, CN, and
// telephone-event at 48 kHz (110) beside the 8 kHz one (126) — the offer a G.711 leg
// must pick its law and event type out of.
func chromeAPI(t testing.TB) *webrtc.API {
	t.Helper()
	api, err := browsertest.NewAPI(
		webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
		webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/red", ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111"}, PayloadType: 63},
		webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeG722, ClockRate: 8000}, PayloadType: 9},
		webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
		webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/CN", ClockRate: 8000}, PayloadType: 13},
		webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: media.MimeTypeTelephoneEvent, ClockRate: 48000}, PayloadType: 110},
		webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: media.MimeTypeTelephoneEvent, ClockRate: 8000}, PayloadType: browserEventPT},
	)
	if err != nil {
		t.Fatal(err)
	}
	return api
}

func newTabWith(t testing.TB, api *webrtc.API) *tab {
	t.Helper()
	b := &tab{ear: newEar(), t: t, mic: media.NewTrack("mic", "tab", media.PCMU)}
	peer, err := browsertest.NewPeer(api, b.mic, func(p *rtp.Packet) { b.hear(p, browserEventPT) })
	if err != nil {
		t.Fatal(err)
	}
	b.Peer, b.pc, b.connected = peer, peer.PC, peer.Connected()
	t.Cleanup(b.close)
	return b
}

func (b *tab) offer() string {
	b.t.Helper()
	sdp, err := b.Offer(context.Background())
	if err != nil {
		b.t.Fatal(err)
	}
	return sdp
}

func (b *tab) answered(sdp string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.Answered(ctx, sdp); err != nil {
		b.t.Fatal(err)
	}
}

// talk sends freq Hz (and any digits pressed) every 20 ms until close.
func (b *tab) talk(freq float64) {
	if !b.talking.CompareAndSwap(false, true) {
		return
	}
	b.mouth = newMouth(freq)
	m := b.mouth
	b.Go(func(stop <-chan struct{}) {
		payload := make([]byte, tone.FrameSamples)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			h, out, ev := m.next(payload)
			_ = b.mic.WriteRTP(&h, out, ev)
		}
	})
}

// press queues DTMF digits on a talking tab.
func (b *tab) press(digits string) {
	for i := range len(digits) {
		b.mouth.digits <- digits[i]
	}
}

func (b *tab) close() { b.Close() }

// ---- rtpEnd: the media of a SIPp-signalled phone, owned by the test ----

// rtpEnd is a UDP RTP endpoint on 127.0.0.1: a SIPp scenario announces its port in
// SDP, so SIPp does the phone's signalling while the test sends and hears its media —
// tone, DTMF (at the payload type the scenario announces) and, for the spoofing test,
// garbage from the right address. It learns the gateway's bridge address from the
// first packet (symmetric RTP, RFC 4961) and answers there.
type rtpEnd struct {
	*ear
	eventPT uint8 // the telephone-event type its SDP announces
	conn    *net.UDPConn
	mouth   *mouth
	peer    atomic.Pointer[netip.AddrPort]
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

func newRTPEnd(t testing.TB, freq float64, eventPT uint8) *rtpEnd {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	e := &rtpEnd{ear: newEar(), eventPT: eventPT, conn: conn, mouth: newMouth(freq), stop: make(chan struct{})}
	e.wg.Add(2)
	go e.read()
	go e.send()
	t.Cleanup(e.close)
	return e
}

func (e *rtpEnd) port() int { return e.conn.LocalAddr().(*net.UDPAddr).Port }

func (e *rtpEnd) read() {
	defer e.wg.Done()
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, src, err := e.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		if e.peer.Load() == nil {
			e.peer.Store(&src)
		}
		e.hear(&p, e.eventPT)
	}
}

func (e *rtpEnd) send() {
	defer e.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	payload := make([]byte, tone.FrameSamples)
	buf := make([]byte, 1500)
	for {
		select {
		case <-e.stop:
			return
		case <-tick.C:
		}
		to := e.peer.Load()
		if to == nil {
			continue
		}
		h, out, ev := e.mouth.next(payload)
		h.SSRC = 0x5151
		if ev {
			h.PayloadType = e.eventPT
		}
		n, err := h.MarshalTo(buf)
		if err != nil {
			continue
		}
		n += copy(buf[n:], out)
		_, _ = e.conn.WriteToUDPAddrPort(buf[:n], *to)
	}
}

// sendRaw sends b from the endpoint's own address to the bridge.
func (e *rtpEnd) sendRaw(b []byte) {
	if to := e.peer.Load(); to != nil {
		_, _ = e.conn.WriteToUDPAddrPort(b, *to)
	}
}

func (e *rtpEnd) press(digits string) {
	for i := range len(digits) {
		e.mouth.digits <- digits[i]
	}
}

func (e *rtpEnd) close() {
	e.once.Do(func() {
		close(e.stop)
		e.conn.Close()
		e.wg.Wait()
	})
}

// ---- SIPp ----

// sippPath finds sipp; without it the SIPp tests skip, unless PARKWAY_REQUIRE_SIPP=1
// (CI) makes that a failure (siptest.SIPpPath).
func sippPath(t testing.TB) string {
	t.Helper()
	return siptest.SIPpPath(t)
}

// sippRun is one SIPp process running a scenario from testdata/sipp.
type sippRun struct {
	*siptest.SIPpRun
}

// sipp runs scenario from local port port; fields are the injection file's one line
// ([field0]…). It is killed when the test ends.
func sipp(t testing.TB, name, scenario, target string, port int, fields []string, args ...string) *sippRun {
	t.Helper()
	bin := sippPath(t)
	dir := t.TempDir()
	wd, _ := os.Getwd()
	inf := siptest.SIPpInjection(t, dir, "fields", fields...)
	base := []string{"-sf", filepath.Join(wd, "testdata", "sipp", scenario), "-inf", inf,
		"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "u1", "-nostdin",
		"-timeout", "60s", "-timeout_error", "-trace_err", "-max_recv_loops", "1000"}
	if target != "" {
		base = append([]string{target}, base...)
	}
	if !slices.Contains(args, "-mp") {
		// SIPp binds its media ports even when it sends no RTP; left at the default
		// (6000) two runs at once would collide.
		base = append(base, "-mp", strconv.Itoa(freeUDPPort(t)))
	}
	return &sippRun{siptest.StartSIPp(t, bin, name, dir, append(base, args...)...)}
}

// listening waits until the SIPp process has bound its UDP port.
func (s *sippRun) listening(t testing.TB, port int) {
	t.Helper()
	poll(t, "sipp "+s.Name+" to listen", 30*time.Second, func() bool {
		if over, err := s.Exited(); over {
			t.Fatalf("sipp %s exited before listening: %v\n%s", s.Name, err, s.Output())
		}
		c, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			c.Close()
			return false
		}
		return errors.Is(err, syscall.EADDRINUSE)
	})
}

// wait waits for SIPp to finish and fails the test with its error log if the
// scenario failed.
func (s *sippRun) wait(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	over, err := s.Wait(ctx)
	if !over {
		t.Fatalf("sipp %s did not finish", s.Name)
	}
	if err != nil {
		var b strings.Builder
		logs, _ := filepath.Glob(filepath.Join(s.Dir, "*errors.log"))
		for _, l := range logs {
			data, _ := os.ReadFile(l)
			b.Write(data[:min(len(data), 6000)])
		}
		t.Fatalf("sipp %s failed: %v\n%s\n%s", s.Name, err, s.Output(), b.String())
	}
}

// sippRegister binds user's Contact to 127.0.0.1:contactPort at p, with SIPp doing the
// digest (RFC 3261 §22).
func sippRegister(t testing.TB, p *pool.Pool, user, password string, contactPort int) {
	t.Helper()
	aux := freeUDPPort(t)
	sipp(t, "register "+user, "register.xml", p.Addr(), aux,
		[]string{p.Domain(), net.JoinHostPort("127.0.0.1", strconv.Itoa(contactPort))},
		"-s", user, "-au", user, "-ap", password, "-m", "1").wait(t)
}
