package phone

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/gateway/edge"
	"github.com/parkway/parkway/media"
	"github.com/parkway/parkway/signaling"
)

// Re-attach (issue 10 items 1 and 2). A call's media leg serves one tab: its holder.
// When that tab's websocket goes away the call stays up on the SIP side for the
// re-attach grace: its leg keeps serving the tab's PeerConnection while that still
// carries audio (only the websocket blipped), and once it does not, the bridge plays
// the configured hold sound to the far end. A tab of the user that sends a media
// action for the call within the grace takes it: an offer from the PeerConnection the
// leg already serves (the same DTLS fingerprint: an ICE restart, or the tab that
// reconnected) is answered on that leg; any other offer gets a new leg on the same
// bridge (media.Factory.Handover) — a reloaded tab, or "Move here" from a second tab —
// so the far end sees no new dialog and one continuous RTP stream. When the grace ends
// with no tab holding the call and its media dead, the call ends with
// signaling.ReasonBrowserGone, which the far end reads in the BYE's Reason header.
// While a call waits, it keeps its user registered (registrations.keep), so the
// shorter sign-out grace does not end it first.

// DefaultReattachGrace is how long a call whose tab went away waits for a tab of its
// user to take its media back.
const DefaultReattachGrace = 30 * time.Second

// mediaFor is where e's media is, as tab s sees it (signaling.Call.Media); under ph.mu.
func (e *callEntry) mediaFor(s *edge.Session) string {
	switch {
	case e.leg == nil || e.state == signaling.CallEnded:
		return ""
	case e.holder == nil:
		return signaling.MediaNeeded
	case e.holder == s:
		return signaling.MediaHere
	}
	return signaling.MediaElsewhere
}

// carriesAudio reports whether leg's PeerConnection is connected to its browser.
func carriesAudio(leg *media.Leg) bool {
	return leg.PeerConnection().ConnectionState() == webrtc.PeerConnectionStateConnected
}

// orphanLocked starts e's re-attach grace: its tab went away. It reports whether the
// call now keeps its user's registration and whether the bridge should play the hold
// sound at once (the leg's PeerConnection is not connected); the caller does both
// with ph.mu released. Under ph.mu.
func (ph *phone) orphanLocked(e *callEntry) (keep, detach bool) {
	e.holder = nil
	if e.orphaned == nil && ph.p.ctx.Err() == nil {
		ph.armGraceLocked(e)
	}
	keep, e.kept = !e.kept, true
	if !e.detached && e.leg != nil && !carriesAudio(e.leg) {
		e.detached, detach = true, true
	}
	return keep, detach
}

// armGraceLocked starts (or starts again) e's grace timer, counted in ph.p.wg.
func (ph *phone) armGraceLocked(e *callEntry) {
	ph.p.wg.Add(1)
	e.orphaned = time.AfterFunc(ph.p.grace, func() {
		defer ph.p.wg.Done()
		ph.graceOver(e)
	})
}

// settleLocked ends e's grace: a tab took the call, or it ended. It reports whether
// the call gave back the registration it kept (the caller calls regs.leave with ph.mu
// released). Under ph.mu.
func (ph *phone) settleLocked(e *callEntry) (release bool) {
	if e.orphaned != nil && e.orphaned.Stop() {
		ph.p.wg.Done()
	}
	e.orphaned = nil
	release, e.kept = e.kept, false
	return release
}

// graceOver ends e unless a tab took it meanwhile or its PeerConnection still carries
// audio (the websocket went away, the media did not): then it waits another grace.
func (ph *phone) graceOver(e *callEntry) {
	ph.mu.Lock()
	if e.orphaned == nil || e.holder != nil || ph.p.ctx.Err() != nil {
		ph.mu.Unlock()
		return
	}
	if e.call == nil || (e.leg != nil && !e.detached && carriesAudio(e.leg)) {
		ph.armGraceLocked(e)
		ph.mu.Unlock()
		return
	}
	e.orphaned = nil
	call := e.call
	ph.mu.Unlock()
	ph.p.log.Info("no tab re-attached the call", "user", ph.name, "call", e.id, "grace", ph.p.grace)
	ctx, cancel := context.WithTimeout(ph.p.ctx, 10*time.Second)
	defer cancel()
	if err := call.End(ctx, signaling.ReasonBrowserGone); err != nil && ph.p.ctx.Err() == nil {
		ph.p.log.Warn("ending an abandoned call", "user", ph.name, "call", e.id, "err", err)
	}
}

// watchLeg plays the hold sound once leg's PeerConnection stops carrying audio while
// no tab holds e.
func (ph *phone) watchLeg(e *callEntry, leg *media.Leg) {
	leg.PeerConnection().OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateDisconnected, webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		default:
			return
		}
		ph.mu.Lock()
		detach := e.leg == leg && e.holder == nil && !e.detached
		if detach {
			e.detached = true
		}
		ph.mu.Unlock()
		if detach {
			_ = leg.Bridge().Detach(ph.p.hold)
		}
	})
}

// orphanTab starts the grace of every call whose media s held; s is gone. The other
// tabs hear that those calls need media.
func (ph *phone) orphanTab(s *edge.Session) {
	ph.mu.Lock()
	var (
		orphans []*callEntry
		detach  []*media.Leg
		keeps   int
	)
	for _, e := range ph.calls {
		if e.holder != s || e.leg == nil || e.state == signaling.CallEnded {
			continue
		}
		keep, d := ph.orphanLocked(e)
		if keep {
			keeps++
		}
		if d {
			detach = append(detach, e.leg)
		}
		orphans = append(orphans, e)
	}
	ph.mu.Unlock()
	for range keeps {
		ph.p.regs.keep(ph.name)
	}
	for _, l := range detach {
		_ = l.Bridge().Detach(ph.p.hold)
	}
	for _, e := range orphans {
		ph.push(e)
	}
}

// sameBrowser reports whether offer comes from the PeerConnection leg already serves:
// a browser makes a certificate per RTCPeerConnection, so the DTLS fingerprint
// (RFC 8122 §5) names it.
func sameBrowser(offer string, leg *media.Leg) bool {
	cur := leg.PeerConnection().RemoteDescription()
	if cur == nil {
		return false
	}
	a, b := fingerprints(offer), fingerprints(cur.SDP)
	return a != "" && a == b
}

func fingerprints(sdp string) string {
	var fps []string
	for line := range strings.Lines(sdp) {
		if f, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "a=fingerprint:"); ok {
			fps = append(fps, strings.ToLower(f))
		}
	}
	return strings.Join(fps, "\n")
}

// media gives e's media to tab s: an ICE restart (or a reconnected tab) on the leg
// that serves s's PeerConnection, else a hand-over of the call's bridge to a new leg
// answering s's new PeerConnection. The answer goes to s in a call message with the
// request's id; the tab that held the call hears it is elsewhere now.
func (ph *phone) media(ctx context.Context, s *edge.Session, id string, e *callEntry, offer string) *signaling.Error {
	e.mediaMu.Lock()
	defer e.mediaMu.Unlock()
	ph.mu.Lock()
	leg := e.leg
	ph.mu.Unlock()
	if leg == nil {
		return &signaling.Error{Code: signaling.CodeRefused, Field: "call", Message: "The call has no audio to take yet"}
	}
	if se := checkOffer(offer); se != nil {
		return se
	}
	same := sameBrowser(offer, leg)
	target := leg
	if !same {
		nl, err := ph.p.f.Handover(leg)
		if err != nil {
			return &signaling.Error{Code: signaling.CodeUnavailable, Message: "The call's audio could not be moved here: " + err.Error()}
		}
		target = nl
		ph.watchLeg(e, nl)
	}
	// As for a call: a full offer gets a full answer, a trickling one an answer at once
	// and the candidates after it (callmedia.go).
	desc := webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}
	var (
		answer webrtc.SessionDescription
		err    error
		tr     *outTrickle
	)
	if hasCandidates(offer) {
		target.PeerConnection().OnICECandidate(func(*webrtc.ICECandidate) {}) // none to an older ref
		answer, err = acceptGathered(ctx, target, desc)
	} else {
		tr = newOutTrickle(s, id)
		target.PeerConnection().OnICECandidate(tr.candidate)
		answer, err = target.Accept(desc)
	}

	ph.mu.Lock()
	if e.leg != leg || e.state == signaling.CallEnded {
		ph.mu.Unlock()
		if !same {
			_ = target.Close()
		}
		return noCall(e.id)
	}
	var old *media.Leg
	if !same {
		// The bridge is the new leg's now, whatever the browser's offer does.
		e.leg, old = target, leg
		ph.finishLegLocked(leg)
	}
	if err != nil {
		var keep bool
		if !same {
			keep, _ = ph.orphanLocked(e)
		}
		ph.mu.Unlock()
		if keep {
			ph.p.regs.keep(ph.name)
		}
		if old != nil {
			ph.push(e)
			_ = old.Close()
		}
		if errors.Is(err, media.ErrCodecMismatch) || errors.Is(err, media.ErrNoG711) {
			return &signaling.Error{Code: signaling.CodeNoG711, Field: "sdp", Message: "the offer lacks the call's G.711 law; Parkway relays without transcoding"}
		}
		return &signaling.Error{Code: signaling.CodeBadField, Field: "sdp", Message: err.Error()}
	}
	e.holder = s
	release := ph.settleLocked(e)
	resume := same && e.detached
	e.detached = false
	e.origin, e.ref, e.answer, e.trickle = s, id, answer.SDP, tr
	ph.mu.Unlock()
	ph.attachRef(s, id, target)
	if release {
		ph.p.regs.leave(ph.name)
	}
	if resume {
		_ = target.Resume()
	}
	ph.push(e)
	if old != nil {
		_ = old.Close() // its PeerConnection only: the bridge went on with target
	}
	return nil
}

// acceptGathered answers desc on leg with every candidate gathered. Unlike
// media.Leg.AcceptGathered it waits for a gathering that starts in Accept itself: an
// ICE restart's, on a leg that had finished gathering before.
func acceptGathered(ctx context.Context, leg *media.Leg, desc webrtc.SessionDescription) (webrtc.SessionDescription, error) {
	if _, err := leg.Accept(desc); err != nil {
		return webrtc.SessionDescription{}, err
	}
	select {
	case <-webrtc.GatheringCompletePromise(leg.PeerConnection()):
	case <-ctx.Done():
		return webrtc.SessionDescription{}, ctx.Err()
	}
	return *leg.PeerConnection().LocalDescription(), nil
}
