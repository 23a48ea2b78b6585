package gateway

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/media"
	"github.com/parkway/parkway/media/tone"
)

// A test "browser": a native pion PeerConnection that offers like Chrome (Opus first,
// then G.711 and telephone-event), sends a known tone as PCMU from its microphone and
// listens with a Goertzel detector, so a test proves that the audio one side sent is
// the audio the other side heard.

// browserEventPT is Chrome's telephone-event type, not the gateway's 101, so the
// payload type mapping is exercised on the way.
const browserEventPT = 126

var loopback = netip.MustParseAddr("127.0.0.1")

// browserAPI builds a pion API limited to loopback (DESIGN.md §5).
func browserAPI(t testing.TB, withG711 bool) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	codecs := []webrtc.RTPCodecParameters{{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		PayloadType:        111,
	}}
	if withG711 {
		codecs = append(codecs,
			webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, PayloadType: 0},
			webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000, Channels: 1}, PayloadType: 8},
			webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: media.MimeTypeTelephoneEvent, ClockRate: 8000, Channels: 1}, PayloadType: browserEventPT},
		)
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

// browser is one tab's PeerConnection with a microphone and an ear.
type browser struct {
	t     testing.TB
	pc    *webrtc.PeerConnection
	track *webrtc.TrackLocalStaticRTP

	mu      sync.Mutex
	det     *tone.Detector
	packets int
	last    time.Time

	stop      chan struct{}
	wg        sync.WaitGroup
	once      sync.Once
	connected chan struct{}
}

func newBrowser(t testing.TB, withG711 bool) *browser {
	t.Helper()
	pc, err := browserAPI(t, withG711).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	mime := webrtc.MimeTypePCMU
	if !withG711 {
		mime = webrtc.MimeTypeOpus
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 8000, Channels: 1}, "mic", "browser")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, pc: pc, track: track, det: tone.NewDetector(400), stop: make(chan struct{}), connected: make(chan struct{})}
	var connOnce sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			connOnce.Do(func() { close(b.connected) })
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			buf := make([]byte, 1500)
			var p rtp.Packet
			for {
				n, _, err := tr.Read(buf)
				if err != nil {
					return
				}
				if p.Unmarshal(buf[:n]) == nil && p.PayloadType != browserEventPT {
					b.mu.Lock()
					b.det.Write(p.PayloadType, p.Payload)
					b.packets++
					b.last = time.Now()
					b.mu.Unlock()
				}
			}
		}()
	})
	t.Cleanup(b.close)
	return b
}

// offer makes the browser's complete (non-trickle) offer.
func (b *browser) offer() webrtc.SessionDescription {
	b.t.Helper()
	o, err := b.pc.CreateOffer(nil)
	if err != nil {
		b.t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(o); err != nil {
		b.t.Fatal(err)
	}
	<-gathered
	return *b.pc.LocalDescription()
}

// answered applies the gateway's answer and waits until ICE and DTLS are up.
func (b *browser) answered(answer webrtc.SessionDescription) {
	b.t.Helper()
	if err := b.pc.SetRemoteDescription(answer); err != nil {
		b.t.Fatal(err)
	}
	select {
	case <-b.connected:
	case <-time.After(time.Minute):
		b.t.Fatal("the browser never connected to the gateway")
	}
}

// talk sends freq Hz as 20 ms PCMU frames until close.
func (b *browser) talk(freq float64) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		gen := tone.NewGenerator(freq, 0.5)
		payload := make([]byte, tone.FrameSamples)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		h := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, Timestamp: 1}
		for {
			select {
			case <-b.stop:
				return
			case <-tick.C:
			}
			gen.Encode(payload, tone.PCMU)
			_ = b.track.WriteRTP(&rtp.Packet{Header: h, Payload: payload})
			h.SequenceNumber++
			h.Timestamp += tone.FrameSamples
		}
	}()
}

// heard reports whether freq dominates the last 50 ms the browser played.
func (b *browser) heard(freq float64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.det.Heard(freq)
}

// quietFor reports whether no audio has arrived for d.
func (b *browser) quietFor(d time.Duration) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return time.Since(b.last) >= d
}

// forget drops what was heard, so a test can tell audio after an event from before.
func (b *browser) forget() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.det.Reset()
}

func (b *browser) close() {
	b.once.Do(func() {
		close(b.stop)
		_ = b.pc.Close()
		b.wg.Wait()
	})
}

// testFactory is the gateway's media factory with ICE on loopback only.
func testFactory(t testing.TB) *media.Factory {
	t.Helper()
	f, err := media.NewFactory(&media.Options{IPs: []netip.Addr{loopback}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// acceptBrowser answers b's offer with a new leg, as the gateway does for a call, and
// waits for the browser to connect.
func acceptBrowser(t testing.TB, f *media.Factory, b *browser) *media.Leg {
	t.Helper()
	leg, err := f.NewLeg(&media.BridgeConfig{LocalAddr: netip.AddrPortFrom(loopback, 0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = leg.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	answer, err := leg.AcceptGathered(ctx, b.offer())
	if err != nil {
		t.Fatal(err)
	}
	b.answered(answer)
	return leg
}
