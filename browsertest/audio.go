package browsertest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/media/tone"
)

// newAPI is the tab's WebRTC stack: G.711 only (the gateway relays nothing else) and
// ICE on loopback alone, as DESIGN.md §5 asks of every test.
func newAPI() (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, PayloadType: 0},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000, Channels: 1}, PayloadType: 8},
	} {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("browsertest: register %s: %w", c.MimeType, err)
		}
	}
	se := webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)), nil
}

// audio is one call's RTCPeerConnection: a microphone playing a steady tone and an
// ear that remembers what it last heard.
//
// Goroutines: the microphone (started once ICE connects) and one reader per remote
// track; close stops and waits for them.
type audio struct {
	pc    *webrtc.PeerConnection
	track *webrtc.TrackLocalStaticRTP
	hz    float64

	connected chan struct{}
	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu    sync.Mutex // guards the ear
	ear   *tone.Detector
	heard time.Time // when the last audio packet arrived
}

func newAudio(api *webrtc.API, hz float64) (*audio, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("browsertest: peer connection: %w", err)
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, "mic", "browsertest")
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		_ = pc.Close()
		return nil, err
	}
	a := &audio{pc: pc, track: track, hz: hz, connected: make(chan struct{}), stop: make(chan struct{}), ear: tone.NewDetector(400)}
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(a.connected) })
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.listen(tr)
		}()
	})
	return a, nil
}

// offer is the tab's complete offer: candidates gathered, no trickle, as the softphone
// sends it in its call, answer or retrieve request.
func (a *audio) offer(ctx context.Context) (string, error) {
	o, err := a.pc.CreateOffer(nil)
	if err != nil {
		return "", fmt.Errorf("browsertest: offer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(a.pc)
	if err := a.pc.SetLocalDescription(o); err != nil {
		return "", fmt.Errorf("browsertest: offer: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return a.pc.LocalDescription().SDP, nil
}

// answered applies the gateway's answer, waits for ICE and DTLS, and starts talking.
func (a *audio) answered(ctx context.Context, sdp string) error {
	if err := a.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("browsertest: the gateway's answer: %w", err)
	}
	select {
	case <-a.connected:
	case <-ctx.Done():
		return fmt.Errorf("browsertest: media never connected to the gateway: %w", ctx.Err())
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.talk()
	}()
	return nil
}

// talk sends the tone as 20 ms PCMU frames until close.
func (a *audio) talk() {
	gen := tone.NewGenerator(a.hz, 0.5)
	payload := make([]byte, tone.FrameSamples)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	h := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, Timestamp: 1}
	for {
		select {
		case <-a.stop:
			return
		case <-tick.C:
		}
		gen.Encode(payload, tone.PCMU)
		_ = a.track.WriteRTP(&rtp.Packet{Header: h, Payload: payload})
		h.SequenceNumber++
		h.Timestamp += tone.FrameSamples
	}
}

// listen feeds one remote track into the ear until the connection closes.
func (a *audio) listen(tr *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		a.mu.Lock()
		a.ear.Write(p.PayloadType, p.Payload) // ignores anything but PCMU and PCMA
		a.heard = time.Now()
		a.mu.Unlock()
	}
}

// hears reports whether hz dominates the last 50 ms heard.
func (a *audio) hears(hz float64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ear.Heard(hz)
}

// quietFor reports whether nothing has been heard for d.
func (a *audio) quietFor(d time.Duration) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return time.Since(a.heard) >= d
}

// forget drops what was heard, so what is heard next is news.
func (a *audio) forget() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ear.Reset()
}

func (a *audio) close() {
	a.closeOnce.Do(func() {
		close(a.stop)
		_ = a.pc.Close()
		a.wg.Wait()
	})
}
