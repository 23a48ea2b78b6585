//go:build js && wasm

package main

import (
	"context"
	"errors"
	"time"

	"syscall/js"

	"github.com/parkway/parkway/signaling"
)

// The browser side of a call: one RTCPeerConnection per call this tab placed or
// answered, created through syscall/js. The gateway does not trickle: the tab gathers
// every ICE candidate first and sends the complete offer on the call or answer request;
// the gateway's answer comes back in the call message that carries that request's id.
//
// Test hook: every live RTCPeerConnection is also in the JavaScript array
// window.__parkwayPCs (removed when its call ends), so a test can read getStats().

// gatherTimeout bounds waiting for ICE gathering; on loopback it takes milliseconds.
const gatherTimeout = 10 * time.Second

// peer is one call's RTCPeerConnection, the microphone stream feeding it and the
// <audio> element playing what arrives.
type peer struct {
	pc, mic, audio js.Value
	releases       []func()
}

// offerEvent is a peer whose complete offer is ready to go out on req, or why not.
type offerEvent struct {
	req  *signaling.Request
	peer *peer
	err  error
}

// remoteEvent reports a failed setRemoteDescription.
type remoteEvent struct{ err error }

// newPeer opens a PeerConnection with the microphone on it and returns it once its
// offer is set locally and ICE gathering is complete. Run it on its own goroutine,
// never in a js.Func: it waits on promises.
func newPeer(ctx context.Context) (*peer, error) {
	ctor := global.Get("RTCPeerConnection")
	devices := global.Get("navigator").Get("mediaDevices")
	if ctor.Type() != js.TypeFunction || !present(devices) {
		return nil, errors.New("this browser cannot make calls (no WebRTC or no microphone access)")
	}
	p := &peer{pc: ctor.New()}
	hook := global.Get("__parkwayPCs")
	if hook.Type() != js.TypeObject {
		hook = global.Get("Array").New()
		global.Set("__parkwayPCs", hook)
	}
	hook.Call("push", p.pc)

	p.audio = document.Call("createElement", "audio")
	p.audio.Set("autoplay", true)
	setAttr(p.audio, "data-part", "remote-audio")
	document.Get("body").Call("append", p.audio)
	p.releases = append(p.releases, listen(p.pc, "track", func(ev js.Value) {
		if s := ev.Get("streams"); s.Length() > 0 {
			p.audio.Set("srcObject", s.Index(0))
			return
		}
		p.audio.Set("srcObject", global.Get("MediaStream").New([]any{ev.Get("track")}))
	}))

	ok := false
	defer func() {
		if !ok {
			p.close()
		}
	}()
	constraints := map[string]any{"audio": true}
	mic, err := await(ctx, devices.Call("getUserMedia", constraints))
	if err != nil {
		return nil, errors.New("no microphone: " + err.Error())
	}
	p.mic = mic
	tracks := mic.Call("getAudioTracks")
	for i := 0; i < tracks.Length(); i++ {
		p.pc.Call("addTrack", tracks.Index(i), mic)
	}

	gathered := make(chan struct{}, 1)
	p.releases = append(p.releases, listen(p.pc, "icegatheringstatechange", func(js.Value) {
		if p.pc.Get("iceGatheringState").String() == "complete" {
			select {
			case gathered <- struct{}{}:
			default:
			}
		}
	}))
	offer, err := await(ctx, p.pc.Call("createOffer"))
	if err != nil {
		return nil, errors.New("could not make an offer: " + err.Error())
	}
	if _, err := await(ctx, p.pc.Call("setLocalDescription", offer)); err != nil {
		return nil, errors.New("could not use the offer: " + err.Error())
	}
	if p.pc.Get("iceGatheringState").String() != "complete" {
		t := time.NewTimer(gatherTimeout)
		defer t.Stop()
		select {
		case <-gathered:
		case <-t.C:
			return nil, errors.New("gathering network addresses took too long")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	ok = true
	return p, nil
}

// sdp is the complete local offer.
func (p *peer) sdp() string { return p.pc.Get("localDescription").Get("sdp").String() }

// answered applies the gateway's answer. It waits on a promise: own goroutine only.
func (p *peer) answered(ctx context.Context, sdp string) error {
	desc := map[string]any{"type": "answer", "sdp": sdp}
	_, err := await(ctx, p.pc.Call("setRemoteDescription", desc))
	return err
}

// close ends the connection, stops the microphone, removes the audio element and the
// test hook's reference, and releases the callbacks. Safe to call twice.
func (p *peer) close() {
	for _, r := range p.releases {
		r()
	}
	p.releases = nil
	if present(p.mic) {
		tracks := p.mic.Call("getTracks")
		for i := 0; i < tracks.Length(); i++ {
			tracks.Index(i).Call("stop")
		}
		p.mic = js.Undefined()
	}
	if present(p.pc) {
		p.pc.Call("close")
		if hook := global.Get("__parkwayPCs"); hook.Type() == js.TypeObject {
			if i := hook.Call("indexOf", p.pc).Int(); i >= 0 {
				hook.Call("splice", i, 1)
			}
		}
		p.pc = js.Undefined()
	}
	if present(p.audio) {
		p.audio.Set("srcObject", js.Null())
		p.audio.Call("remove")
		p.audio = js.Undefined()
	}
}

// needsOffer reports whether act carries this tab's SDP offer.
func needsOffer(act signaling.Action) bool {
	return act == signaling.ActionCall || act == signaling.ActionAnswer
}

// prepareOffer builds the peer for req off the loop and reports back as an offerEvent.
func (a *app) prepareOffer(req *signaling.Request) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p, err := newPeer(ctx)
		if err == nil {
			req.SDP = p.sdp()
		}
		a.events <- offerEvent{req: req, peer: p, err: err}
	}()
}

// sendOffer sends a request whose offer is ready; the gateway's answer will carry its id.
func (a *app) sendOffer(ev offerEvent) {
	label := labels[ev.req.Action]
	if ev.err != nil {
		a.view.showAlert(label+" was not sent", capitalize(ev.err.Error())+".", "local")
		return
	}
	id, err := a.client.send(ev.req)
	if err != nil {
		ev.peer.close()
		a.view.showAlert(label+" was not sent", capitalize(err.Error())+".", "local")
		return
	}
	a.pending[id] = ev.req.Action
	a.offers[id] = ev.peer
}

// callChanged follows a call message: the answer to our offer goes to its peer, and a
// call that ended closes its peer.
func (a *app) callChanged(ev callEvent) {
	c := ev.call
	if p, ok := a.offers[ev.ref]; ok && c.SDP != "" {
		// The request may still fail (a call to an unknown user is refused after the
		// leg answered): its error then ends this call, so keep ref → call until then.
		delete(a.offers, ev.ref)
		a.offerCalls[ev.ref] = c.ID
		if old := a.peers[c.ID]; old != nil && old != p {
			old.close()
		}
		a.peers[c.ID] = p
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := p.answered(ctx, c.SDP); err != nil {
				a.events <- remoteEvent{err: err}
			}
		}()
	}
	if c.State == signaling.CallEnded {
		a.endPeer(c.ID)
	} else if c.State == signaling.CallActive {
		for ref, id := range a.offerCalls { // connected: the request succeeded
			if id == c.ID {
				delete(a.offerCalls, ref)
				delete(a.pending, ref)
			}
		}
	}
	a.calls.update(c)
	a.focusCall = a.calls.focus()
	a.view.showCalls(&a.calls)
}

func (a *app) endPeer(call string) {
	if p := a.peers[call]; p != nil {
		p.close()
		delete(a.peers, call)
	}
	for ref, id := range a.offerCalls {
		if id == call {
			delete(a.offerCalls, ref)
		}
	}
}

// offerRefused closes the peer of an offer the gateway answered with an error, and
// ends the call it had started, saying why, unless the gateway already ended it.
func (a *app) offerRefused(e *signaling.Error) {
	if p, ok := a.offers[e.Ref]; ok {
		p.close()
		delete(a.offers, e.Ref)
	}
	id, ok := a.offerCalls[e.Ref]
	if !ok {
		return
	}
	a.endPeer(id)
	for _, c := range a.calls.calls {
		if c.ID == id && c.State != signaling.CallEnded {
			ended := *c
			ended.State, ended.Reason = signaling.CallEnded, e.Message
			a.calls.update(&ended)
		}
	}
	a.focusCall = a.calls.focus()
	a.view.showCalls(&a.calls)
}
