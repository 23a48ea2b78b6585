package media

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/pion/webrtc/v4"
)

// Leg is one call's PeerConnection toward the browser wired to its Bridge.
// The gateway's call owns it; Close tears down both.
type Leg struct {
	pc     *webrtc.PeerConnection
	bridge *Bridge
	prefer Codec

	mu     sync.Mutex // guards sender, law, fixed, handed, closed
	sender *webrtc.RTPSender
	law    Codec // the law in the last answer
	// fixed: the SIP side already talks law (a leg made by Handover), so an
	// offer without it is refused.
	fixed bool
	// handed: Handover gave the bridge to another leg; this one only has
	// its PeerConnection left to close.
	handed bool
	// track and receiver are the browser's audio as OnTrack gave it, for
	// Resume.
	track    *webrtc.TrackRemote
	receiver *webrtc.RTPReceiver
	closed   bool
	wg       sync.WaitGroup
	// tally is the Factory's, which Close reports the final counts to.
	tally *legTally
}

// NewLeg creates a PeerConnection and a Bridge for one call. Nothing is
// negotiated yet: answer the browser's offer with Accept.
func (f *Factory) NewLeg(cfg *BridgeConfig) (*Leg, error) {
	br, err := NewBridge(cfg)
	if err != nil {
		return nil, err
	}
	// No ICE servers: the gateway is the reachable end (public address or
	// NAT 1:1), the browser's host/srflx candidates reach it.
	pc, err := f.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		_ = br.Close()
		return nil, fmt.Errorf("media: new peer connection: %w", err)
	}
	l := &Leg{pc: pc, bridge: br, tally: &f.legs}
	f.legs.add(l)
	if cfg != nil {
		l.prefer = cfg.Codec
	}
	l.onTrack()
	return l, nil
}

// onTrack attaches the browser's audio to the bridge, while the leg owns it.
func (l *Leg) onTrack() {
	l.pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		l.mu.Lock()
		handed := l.handed
		if !handed {
			l.track, l.receiver = t, r
		}
		l.mu.Unlock()
		if handed {
			return // a late track of a leg whose call moved on: never heard
		}
		// An error here means a non-audio track or a closed bridge; the
		// offer check already refused anything without G.711.
		_ = l.bridge.Attach(t, r)
	})
}

// Resume forwards the browser's audio again after Bridge.Detach: the same
// PeerConnection came back (its tab reconnected, or its ICE restarted). A
// leg whose browser never sent a track has nothing to resume.
func (l *Leg) Resume() error {
	l.mu.Lock()
	t, r, handed := l.track, l.receiver, l.handed
	l.mu.Unlock()
	if handed {
		return ErrClosed
	}
	if t == nil {
		return nil
	}
	return l.bridge.Attach(t, r)
}

// Handover moves old's call to a new browser PeerConnection: a reloaded
// tab, or another tab of the same user taking the call. The new leg gets
// old's Bridge — its SIP-side socket, SSRC, sequence and timestamp — so the
// SIP peer sees one continuous stream and no new dialog or re-INVITE is
// needed; it keeps old's G.711 law (an offer without it fails with
// ErrCodecMismatch). old's browser audio stops being forwarded at once;
// old keeps only its PeerConnection, which its Close closes, and the new
// leg's Close closes the bridge. Answer the new browser's offer with
// Accept or AcceptGathered as for a fresh leg.
func (f *Factory) Handover(old *Leg) (*Leg, error) {
	old.mu.Lock()
	if old.closed || old.handed {
		old.mu.Unlock()
		return nil, ErrClosed
	}
	law, known := old.law, old.sender != nil
	old.handed = true
	old.mu.Unlock()
	if !known {
		law, known = old.bridge.Codec()
	}
	if !known {
		// A leg no browser ever answered (a call adopted from a failed gateway): its
		// SIP side talks the law it was made with.
		law = old.prefer
	}
	pc, err := f.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		old.mu.Lock()
		old.handed = false
		old.mu.Unlock()
		return nil, fmt.Errorf("media: new peer connection: %w", err)
	}
	_ = old.bridge.DetachBrowser()
	l := &Leg{pc: pc, bridge: old.bridge, prefer: law, law: law, fixed: known, tally: &f.legs}
	f.legs.handOver(old, l)
	l.onTrack()
	return l, nil
}

// PeerConnection exposes the browser-side connection for trickle ICE
// (OnICECandidate, AddICECandidate) and state callbacks.
func (l *Leg) PeerConnection() *webrtc.PeerConnection { return l.pc }

// Bridge returns the leg's relay, for SetRemote, SetDirection and Stats.
func (l *Leg) Bridge() *Bridge { return l.bridge }

// Accept answers a browser offer. An offer without G.711 fails with
// ErrNoG711 before any state changes. The answer carries one G.711 law
// (the configured preference when offered, else the browser's first) and
// telephone-event, so the browser cannot switch laws under the bridge.
// Candidates trickle through PeerConnection().OnICECandidate; use
// AcceptGathered to wait for them instead.
func (l *Leg) Accept(offer webrtc.SessionDescription) (webrtc.SessionDescription, error) {
	codecs, eventPT, err := offerAudio(offer.SDP)
	if err != nil {
		return webrtc.SessionDescription{}, err
	}
	l.mu.Lock()
	closed, sender, current := l.closed, l.sender, l.law
	l.mu.Unlock()
	if closed {
		return webrtc.SessionDescription{}, ErrClosed
	}
	l.mu.Lock()
	fixed := l.fixed
	l.mu.Unlock()
	law := codecs[0]
	want, hasWant := l.prefer, l.prefer.Valid()
	if sender != nil || fixed {
		// A re-offer (ICE restart, the browser's own renegotiation) must
		// keep the law: the SIP side is already talking it.
		want, hasWant = current, true
	}
	if hasWant {
		if !slices.Contains(codecs, want) {
			if sender != nil || fixed {
				return webrtc.SessionDescription{}, fmt.Errorf("media: re-offer drops %v: %w", want, ErrCodecMismatch)
			}
		} else {
			law = want
		}
	}
	if err := l.pc.SetRemoteDescription(offer); err != nil {
		return webrtc.SessionDescription{}, fmt.Errorf("media: set offer: %w", err)
	}
	if sender == nil {
		// AddTrack after the offer reuses the offer's audio transceiver
		// and makes it sendrecv (JSEP §5.10), instead of adding an m-line.
		if sender, err = l.pc.AddTrack(l.bridge.Track()); err != nil {
			return webrtc.SessionDescription{}, fmt.Errorf("media: add track: %w", err)
		}
	}
	var tr *webrtc.RTPTransceiver
	for _, t := range l.pc.GetTransceivers() {
		if t.Sender() == sender {
			tr = t
		}
	}
	if tr == nil || tr.Mid() == "" {
		// The track got a new m-line: the offer had no usable audio one.
		return webrtc.SessionDescription{}, ErrNoG711
	}
	prefs := []webrtc.RTPCodecParameters{codecParameters(law)}
	if eventPT != 0 {
		ev := eventParameters()
		ev.PayloadType = webrtc.PayloadType(eventPT)
		prefs = append(prefs, ev)
	}
	if err := tr.SetCodecPreferences(prefs); err != nil {
		return webrtc.SessionDescription{}, fmt.Errorf("media: codec preferences: %w", err)
	}
	l.mu.Lock()
	l.law = law
	l.mu.Unlock()
	l.bridge.expect(law)
	l.startRTCP(sender)
	answer, err := l.pc.CreateAnswer(nil)
	if err != nil {
		return webrtc.SessionDescription{}, fmt.Errorf("media: create answer: %w", err)
	}
	if err := l.pc.SetLocalDescription(answer); err != nil {
		return webrtc.SessionDescription{}, fmt.Errorf("media: set answer: %w", err)
	}
	return answer, nil
}

// AcceptGathered is Accept for signaling without trickle ICE: it waits for
// candidate gathering and returns the answer with all candidates in it.
func (l *Leg) AcceptGathered(ctx context.Context, offer webrtc.SessionDescription) (webrtc.SessionDescription, error) {
	gathered := webrtc.GatheringCompletePromise(l.pc)
	if _, err := l.Accept(offer); err != nil {
		return webrtc.SessionDescription{}, err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return webrtc.SessionDescription{}, fmt.Errorf("media: gather candidates: %w", ctx.Err())
	}
	return *l.pc.LocalDescription(), nil
}

// Offer makes the gateway's offer to the browser, for flows where the
// gateway speaks first. It carries one law (the configured one) and
// telephone-event, so the browser cannot pick the other law under the
// bridge (every browser has both); it waits for candidate gathering so the
// offer is complete without trickle. Follow with SetAnswer.
func (l *Leg) Offer(ctx context.Context) (webrtc.SessionDescription, error) {
	l.mu.Lock()
	closed, sender := l.closed, l.sender
	l.mu.Unlock()
	if closed {
		return webrtc.SessionDescription{}, ErrClosed
	}
	if sender == nil {
		tr, err := l.pc.AddTransceiverFromTrack(l.bridge.Track(), webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
		if err != nil {
			return webrtc.SessionDescription{}, fmt.Errorf("media: add transceiver: %w", err)
		}
		law := PCMU
		if l.prefer == PCMA {
			law = PCMA
		}
		prefs := []webrtc.RTPCodecParameters{codecParameters(law), eventParameters()}
		if err := tr.SetCodecPreferences(prefs); err != nil {
			return webrtc.SessionDescription{}, fmt.Errorf("media: codec preferences: %w", err)
		}
		sender = tr.Sender()
		l.startRTCP(sender)
	}
	gathered := webrtc.GatheringCompletePromise(l.pc)
	offer, err := l.pc.CreateOffer(nil)
	if err != nil {
		return webrtc.SessionDescription{}, fmt.Errorf("media: create offer: %w", err)
	}
	if err := l.pc.SetLocalDescription(offer); err != nil {
		return webrtc.SessionDescription{}, fmt.Errorf("media: set offer: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return webrtc.SessionDescription{}, fmt.Errorf("media: gather candidates: %w", ctx.Err())
	}
	return *l.pc.LocalDescription(), nil
}

// SetAnswer applies the browser's answer to Offer. An answer without
// G.711 fails with ErrNoG711 (the browser refused every law offered).
func (l *Leg) SetAnswer(answer webrtc.SessionDescription) error {
	codecs, _, err := offerAudio(answer.SDP)
	if err != nil {
		return err
	}
	if err := l.pc.SetRemoteDescription(answer); err != nil {
		return fmt.Errorf("media: set answer: %w", err)
	}
	l.mu.Lock()
	l.law = codecs[0]
	l.mu.Unlock()
	l.bridge.expect(codecs[0])
	return nil
}

// startRTCP drains RTCP from the sender. pion runs its interceptors (the
// receiver reports about our stream, and RTCP bookkeeping) only as RTCP is
// read; the reports are for getStats, the bridge does not act on them.
func (l *Leg) startRTCP(s *webrtc.RTPSender) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.sender == s {
		return
	}
	l.sender = s
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		buf := make([]byte, maxPacket)
		for {
			if _, _, err := s.Read(buf); err != nil {
				return
			}
		}
	}()
}

// Close closes the PeerConnection and the Bridge and waits for every
// goroutine the leg started.
func (l *Leg) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	handed := l.handed
	l.mu.Unlock()
	err := l.pc.Close()
	if !handed {
		err = errors.Join(err, l.bridge.Close())
	}
	l.wg.Wait()
	l.tally.remove(l)
	return err
}
