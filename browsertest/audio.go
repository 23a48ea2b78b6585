package browsertest

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/media/tone"
)

// G711 is what the stand-in tab offers: PCMU and PCMA, the only audio the gateway
// relays.
var G711 = []webrtc.RTPCodecParameters{
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, PayloadType: 0},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000, Channels: 1}, PayloadType: 8},
}

// PCMU is a microphone's capability for [NewAudio]: G.711 µ-law, 8 kHz, mono.
var PCMU = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}

// NewAPI is a tab's WebRTC stack offering codecs, in that order, as audio, with ICE
// on loopback alone, as ARCHITECTURE.md §5 asks of every test.
func NewAPI(codecs ...webrtc.RTPCodecParameters) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	for _, c := range codecs {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("browsertest: register %s: %w", c.MimeType, err)
		}
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(LoopbackSettings())), nil
}

// LoopbackSettings limits ICE to UDP over IPv4 loopback, without mDNS.
func LoopbackSettings() webrtc.SettingEngine {
	se := webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	return se
}

// Peer is one call's RTCPeerConnection with a single sendrecv audio transceiver: what
// the tab sends is up to its microphone track, what it receives goes to a callback.
//
// Goroutines: one reader per remote track, and those started with [Peer.Go]; Close
// stops and waits for them.
type Peer struct {
	PC *webrtc.PeerConnection

	connected chan struct{}
	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu     sync.Mutex // orders Go's wg.Add before Close's wg.Wait
	closed bool       // Close has begun: Go starts nothing more
}

// NewPeer makes a PeerConnection from api that sends mic and hands every RTP packet
// it receives to hear, from the track's reader goroutine; the packet is reused after
// hear returns.
func NewPeer(api *webrtc.API, mic webrtc.TrackLocal, hear func(*rtp.Packet)) (*Peer, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("browsertest: peer connection: %w", err)
	}
	if _, err := pc.AddTransceiverFromTrack(mic, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		_ = pc.Close()
		return nil, err
	}
	p := &Peer{PC: pc, connected: make(chan struct{}), stop: make(chan struct{})}
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(p.connected) })
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		p.Go(func(<-chan struct{}) {
			buf := make([]byte, 1500)
			var pkt rtp.Packet
			for {
				n, _, err := tr.Read(buf)
				if err != nil {
					return
				}
				if pkt.Unmarshal(buf[:n]) == nil {
					hear(&pkt)
				}
			}
		})
	})
	return p, nil
}

// Connected is closed once ICE and DTLS are up.
func (p *Peer) Connected() <-chan struct{} { return p.connected }

// Go runs f until Close, which closes stop and waits for f to return. After Close has
// begun it runs nothing: pion calls OnTrack from its own goroutine, which may start a
// reader while the test's cleanup is closing the peer (a WaitGroup's Add racing its Wait).
func (p *Peer) Go(f func(stop <-chan struct{})) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f(p.stop)
	}()
}

// Offer is the tab's complete offer: candidates gathered, no trickle, as the softphone
// sends it in its call, answer or retrieve request.
func (p *Peer) Offer(ctx context.Context) (string, error) {
	o, err := p.PC.CreateOffer(nil)
	if err != nil {
		return "", fmt.Errorf("browsertest: offer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(p.PC)
	if err := p.PC.SetLocalDescription(o); err != nil {
		return "", fmt.Errorf("browsertest: offer: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return p.PC.LocalDescription().SDP, nil
}

// Answered applies the gateway's answer and waits for ICE and DTLS.
func (p *Peer) Answered(ctx context.Context, sdp string) error {
	if err := p.PC.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("browsertest: the gateway's answer: %w", err)
	}
	select {
	case <-p.connected:
	case <-ctx.Done():
		return fmt.Errorf("browsertest: media never connected to the gateway: %w", ctx.Err())
	}
	return nil
}

// Close closes the PeerConnection and waits for its goroutines.
func (p *Peer) Close() {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		close(p.stop)
		_ = p.PC.Close()
		p.wg.Wait()
	})
}

// Audio is a [Peer] with a microphone that plays a steady tone and an ear that
// remembers what it last heard.
type Audio struct {
	*Peer
	track *webrtc.TrackLocalStaticRTP
	skip  []uint8 // payload types that are not audio to the ear

	mu    sync.Mutex // guards the ear
	ear   *tone.Detector
	heard time.Time // when the last audio packet arrived
}

// NewAudio makes a PeerConnection from api whose microphone sends as mic; packets of
// the payload types in skip (such as telephone-event) are not audio to its ear.
func NewAudio(api *webrtc.API, mic webrtc.RTPCodecCapability, skip ...uint8) (*Audio, error) {
	track, err := webrtc.NewTrackLocalStaticRTP(mic, "mic", "browsertest")
	if err != nil {
		return nil, err
	}
	a := &Audio{track: track, skip: skip, ear: tone.NewDetector(400)}
	if a.Peer, err = NewPeer(api, track, a.listen); err != nil {
		return nil, err
	}
	return a, nil
}

// Talk sends hz as 20 ms PCMU frames until Close.
func (a *Audio) Talk(hz float64) {
	a.Go(func(stop <-chan struct{}) {
		gen := tone.NewGenerator(hz, 0.5)
		payload := make([]byte, tone.FrameSamples)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		h := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, Timestamp: 1}
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			gen.Encode(payload, tone.PCMU)
			_ = a.track.WriteRTP(&rtp.Packet{Header: h, Payload: payload})
			h.SequenceNumber++
			h.Timestamp += tone.FrameSamples
		}
	})
}

// listen feeds one received packet into the ear.
func (a *Audio) listen(p *rtp.Packet) {
	if slices.Contains(a.skip, p.PayloadType) {
		return
	}
	a.mu.Lock()
	a.ear.Write(p.PayloadType, p.Payload) // ignores anything but PCMU and PCMA
	a.heard = time.Now()
	a.mu.Unlock()
}

// Hears reports whether hz dominates the last 50 ms heard.
func (a *Audio) Hears(hz float64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ear.Heard(hz)
}

// QuietFor reports whether nothing has been heard for d.
func (a *Audio) QuietFor(d time.Duration) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return time.Since(a.heard) >= d
}

// Forget drops what was heard, so what is heard next is news.
func (a *Audio) Forget() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ear.Reset()
}
