package gateway

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/browsertest"
	"github.com/parkway/parkway/media"
)

// A test "browser": a native pion PeerConnection that offers like Chrome (Opus first,
// then G.711 and telephone-event), sends a known tone as PCMU from its microphone and
// listens with a Goertzel detector, so a test proves that the audio one side sent is
// the audio the other side heard.

// browserEventPT is Chrome's telephone-event type, not the gateway's 101, so the
// payload type mapping is exercised on the way.
const browserEventPT = 126

var loopback = netip.MustParseAddr("127.0.0.1")

// browserAPI builds a pion API limited to loopback (ARCHITECTURE.md §5): Opus, and with
// withG711 also PCMU, PCMA and telephone-event at browserEventPT.
func browserAPI(t testing.TB, withG711 bool) *webrtc.API {
	t.Helper()
	codecs := []webrtc.RTPCodecParameters{{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		PayloadType:        111,
	}}
	if withG711 {
		codecs = append(codecs, browsertest.G711...)
		codecs = append(codecs, webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: media.MimeTypeTelephoneEvent, ClockRate: 8000, Channels: 1}, PayloadType: browserEventPT})
	}
	api, err := browsertest.NewAPI(codecs...)
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// browser is one tab's PeerConnection with a microphone and an ear: a
// browsertest.Audio that fails the test where that returns an error.
type browser struct {
	t testing.TB
	*browsertest.Audio
	pc        *webrtc.PeerConnection
	connected <-chan struct{} // closed once ICE and DTLS are up
}

func newBrowser(t testing.TB, withG711 bool) *browser {
	t.Helper()
	mic := browsertest.PCMU
	if !withG711 {
		mic.MimeType = webrtc.MimeTypeOpus
	}
	a, err := browsertest.NewAudio(browserAPI(t, withG711), mic, browserEventPT)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return &browser{t: t, Audio: a, pc: a.PC, connected: a.Connected()}
}

// offer makes the browser's complete (non-trickle) offer.
func (b *browser) offer() webrtc.SessionDescription {
	b.t.Helper()
	sdp, err := b.Offer(context.Background())
	if err != nil {
		b.t.Fatal(err)
	}
	return webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}
}

// answered applies the gateway's answer and waits until ICE and DTLS are up.
func (b *browser) answered(answer webrtc.SessionDescription) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.Answered(ctx, answer.SDP); err != nil {
		b.t.Fatal(err)
	}
}

// talk sends freq Hz as 20 ms PCMU frames until close.
func (b *browser) talk(freq float64) { b.Talk(freq) }

// heard reports whether freq dominates the last 50 ms the browser played.
func (b *browser) heard(freq float64) bool { return b.Hears(freq) }

// quietFor reports whether no audio has arrived for d.
func (b *browser) quietFor(d time.Duration) bool { return b.QuietFor(d) }

// forget drops what was heard, so a test can tell audio after an event from before.
func (b *browser) forget() { b.Forget() }

func (b *browser) close() { b.Close() }

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
