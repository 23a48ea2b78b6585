package main

import (
	"context"
	"errors"
	"time"

	"syscall/js"

	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/wasm/softphone"
)

// The browser side of a call: one RTCPeerConnection per call this tab placed, answered
// or retrieved, used directly through syscall/js. (pion/webrtc's js build wraps the same
// object but brought 2.3 MB of ICE, DTLS and TURN code the browser never runs into the
// client — a third of main.wasm; issue 12.) The microphone goes into the audio
// transceiver's sender with replaceTrack, and what arrives is played by an <audio>
// element fed from the connection's track event.
//
// Trickle ICE (RFC 8838): the offer goes out as soon as it is set locally, and every
// candidate the browser gathers follows in an ice message whose ref is the id of the
// request that carried the offer; the gateway's candidates come back the same way.
// A gateway that does not take ice messages answers them unknown-type: the tab then
// stops trickling and the call still connects, because the browser, as the
// controlling ICE agent, checks the candidates in the gateway's answer and the gateway
// learns the browser's address from those checks (peer-reflexive, RFC 8445 §7.3.1.3).
//
// Local candidates are sent as the browser's icecandidate event gives them: sdpMid,
// sdpMLineIndex and the ufrag extension are what the gateway matches them by.
//
// Test hook: every live connection's RTCPeerConnection is also in the JavaScript array
// window.__parkwayPCs (removed when its call ends), so a test can read getStats().

// peer is one call's PeerConnection, the microphone stream feeding it and the <audio>
// element playing what arrives. The loop in main_js.go owns it; goroutines that wait on
// its promises report back through events.
type peer struct {
	pc         js.Value // RTCPeerConnection
	tr         js.Value // its audio RTCRtpTransceiver; undefined until added
	mic, audio js.Value
	releases   []func()

	// ref is the id of the request that carried the offer, "" until it is sent.
	ref string
	// outICE holds candidates gathered before the offer went out.
	outICE []signaling.ICE
	// remoteSet: the gateway's answer is applied; inICE holds its candidates that
	// arrived before that.
	remoteSet bool
	inICE     []js.Value // RTCIceCandidateInit
	muted     bool
	closed    bool

	// ICE restart (issue 10 item 2): iceDown while the browser's ICE connection is
	// disconnected or failed; restarting from when a restart's offer is being made
	// until its answer is applied; restarted when the last one began.
	iceDown    bool
	restarting bool
	restarted  time.Time
}

// offerEvent is a peer whose offer is set and ready to go out for cmd, or why not.
type offerEvent struct {
	cmd  softphone.Command
	peer *peer
	err  error
}

// localICEEvent is a candidate the browser gathered for p (Candidate "" when done).
type localICEEvent struct {
	peer *peer
	ice  signaling.ICE
}

// iceStateEvent is p's new ICE connection state (RTCIceConnectionState).
type iceStateEvent struct {
	peer  *peer
	state string
}

// restartEvent is p's ICE-restart offer, set locally, for call; or why there is none.
type restartEvent struct {
	peer *peer
	call string
	sdp  string
	err  error
}

// remoteEvent reports that the gateway's answer was applied to p, or why not.
type remoteEvent struct {
	peer *peer
	err  error
}

// newPeer opens a PeerConnection with the microphone on it and returns it once its
// offer is set locally; candidates then arrive on events as localICEEvent. Run it on
// its own goroutine, never in a js.Func: it waits on promises.
func newPeer(ctx context.Context, events chan<- any) (*peer, error) {
	devices := global.Get("navigator").Get("mediaDevices")
	if global.Get("RTCPeerConnection").Type() != js.TypeFunction || !present(devices) {
		return nil, errors.New("this browser cannot make calls (no WebRTC or no microphone access)")
	}
	mic, err := await(ctx, devices.Call("getUserMedia", map[string]any{"audio": true}))
	if err != nil {
		return nil, errors.New("no microphone: " + err.Error())
	}
	pc, err := jsNew("RTCPeerConnection", map[string]any{})
	if err != nil {
		stopTracks(mic)
		return nil, errors.New("could not open a WebRTC connection: " + err.Error())
	}
	p := &peer{pc: pc, mic: mic}
	ok := false
	defer func() {
		if !ok {
			p.close()
		}
	}()
	raw := pc
	hook := global.Get("__parkwayPCs")
	if hook.Type() != js.TypeObject {
		hook = global.Get("Array").New()
		global.Set("__parkwayPCs", hook)
	}
	hook.Call("push", raw)

	p.audio = document.Call("createElement", "audio")
	p.audio.Set("autoplay", true)
	setAttr(p.audio, "data-part", "remote-audio")
	document.Get("body").Call("append", p.audio)
	p.releases = append(p.releases, listen(raw, "track", func(ev js.Value) {
		if s := ev.Get("streams"); s.Length() > 0 {
			p.audio.Set("srcObject", s.Index(0))
			return
		}
		p.audio.Set("srcObject", global.Get("MediaStream").New([]any{ev.Get("track")}))
	}))
	p.releases = append(p.releases, listen(raw, "iceconnectionstatechange", func(js.Value) {
		st := raw.Get("iceConnectionState").String()
		go func() { events <- iceStateEvent{peer: p, state: st} }()
	}))
	// DTLS closed by the gateway (the call moved to another tab) shows here first.
	p.releases = append(p.releases, listen(raw, "connectionstatechange", func(js.Value) {
		if st := raw.Get("connectionState").String(); st == "failed" || st == "closed" {
			go func() { events <- iceStateEvent{peer: p, state: st} }()
		}
	}))
	p.releases = append(p.releases, listen(raw, "icecandidate", func(ev js.Value) {
		m := signaling.ICE{}
		if c := ev.Get("candidate"); present(c) {
			m.Candidate = c.Get("candidate").String()
			if mid := c.Get("sdpMid"); mid.Type() == js.TypeString {
				m.SDPMid = mid.String()
			}
			if i := c.Get("sdpMLineIndex"); i.Type() == js.TypeNumber {
				n := uint16(i.Int())
				m.SDPMLineIndex = &n
			}
		}
		// A js.Func must not block on a busy loop.
		go func() { events <- localICEEvent{peer: p, ice: m} }()
	}))

	tr, err := jsCall(pc, "addTransceiver", "audio", map[string]any{"direction": "sendrecv"})
	if err != nil {
		return nil, errors.New("could not add audio: " + err.Error())
	}
	p.tr = tr
	if tracks := mic.Call("getAudioTracks"); tracks.Length() > 0 {
		if _, err := await(ctx, tr.Get("sender").Call("replaceTrack", tracks.Index(0))); err != nil {
			return nil, errors.New("could not send the microphone: " + err.Error())
		}
	}
	offer, err := await(ctx, pc.Call("createOffer"))
	if err != nil {
		return nil, errors.New("could not make an offer: " + err.Error())
	}
	if _, err := await(ctx, pc.Call("setLocalDescription", offer)); err != nil {
		return nil, errors.New("could not use the offer: " + err.Error())
	}
	ok = true
	return p, nil
}

// sdp is the local offer as set (with whatever candidates were gathered by now).
func (p *peer) sdp() string {
	if d := p.pc.Get("localDescription"); present(d) {
		return d.Get("sdp").String()
	}
	return ""
}

// answered applies the gateway's answer. It waits on a promise: own goroutine only.
func (p *peer) answered(sdp string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := await(ctx, p.pc.Call("setRemoteDescription", map[string]any{"type": "answer", "sdp": sdp}))
	return err
}

// addRemote applies the gateway's candidates in order. Own goroutine only.
func (p *peer) addRemote(cands []js.Value) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range cands {
		if _, err := await(ctx, p.pc.Call("addIceCandidate", c)); err != nil {
			global.Get("console").Call("warn", "parkway: the gateway's ICE candidate was not taken:", err.Error())
		}
	}
}

// remoteCandidate turns the gateway's ice message into what addIceCandidate takes.
// An empty candidate (the gateway has gathered all) is an end-of-candidates marker.
func remoteCandidate(m *signaling.ICE) js.Value {
	c := map[string]any{"candidate": m.Candidate}
	if m.SDPMid != "" {
		c["sdpMid"] = m.SDPMid
	}
	if m.SDPMLineIndex != nil {
		c["sdpMLineIndex"] = int(*m.SDPMLineIndex)
	} else if m.SDPMid == "" {
		// The browser refuses a candidate with neither; the call has one m-line.
		c["sdpMLineIndex"] = 0
	}
	return js.ValueOf(c)
}

// setMuted stops or restarts sending the microphone on this call.
func (p *peer) setMuted(muted bool) {
	p.muted = muted
	if !present(p.mic) {
		return
	}
	tracks := p.mic.Call("getAudioTracks")
	for i := 0; i < tracks.Length(); i++ {
		tracks.Index(i).Set("enabled", !muted)
	}
}

// errNoDTMF: the call's sender cannot send telephone-events (the answer has none).
var errNoDTMF = errors.New("this call cannot send keypad tones")

// sendDTMF queues digits as RFC 4733 telephone-events on the call's sender, after any
// still playing: 100 ms tones, 70 ms apart (RFC 4733 §2.5.1.2's usual values).
func (p *peer) sendDTMF(digits string) error {
	if !present(p.tr) {
		return errNoDTMF
	}
	d := p.tr.Get("sender").Get("dtmf")
	if !present(d) || !d.Get("canInsertDTMF").Truthy() {
		return errNoDTMF
	}
	d.Call("insertDTMF", d.Get("toneBuffer").String()+digits, 100, 70)
	return nil
}

// close ends the connection, stops the microphone, removes the audio element and the
// test hook's reference, and releases the callbacks. Safe to call twice.
func (p *peer) close() {
	if p.closed {
		return
	}
	p.closed = true
	for _, r := range p.releases {
		r()
	}
	p.releases = nil
	if present(p.mic) {
		stopTracks(p.mic)
		p.mic = js.Undefined()
	}
	if present(p.pc) {
		raw := p.pc
		raw.Call("close")
		if hook := global.Get("__parkwayPCs"); hook.Type() == js.TypeObject {
			if i := hook.Call("indexOf", raw).Int(); i >= 0 {
				hook.Call("splice", i, 1)
			}
		}
	}
	if present(p.audio) {
		p.audio.Set("srcObject", js.Null())
		p.audio.Call("remove")
		p.audio = js.Undefined()
	}
}

func stopTracks(stream js.Value) {
	tracks := stream.Call("getTracks")
	for i := 0; i < tracks.Length(); i++ {
		tracks.Index(i).Call("stop")
	}
}

// needsOffer reports whether act carries this tab's SDP offer: the actions that start
// a media leg at the gateway, and media, which takes an existing call's onto this tab.
func needsOffer(act signaling.Action) bool {
	return act == signaling.ActionCall || act == signaling.ActionAnswer || act == signaling.ActionRetrieve || act == signaling.ActionMedia
}

// prepareOffer builds the peer for cmd off the loop and reports back as an offerEvent.
func (a *app) prepareOffer(cmd softphone.Command) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p, err := newPeer(ctx, a.events)
		a.events <- offerEvent{cmd: cmd, peer: p, err: err}
	}()
}

// sendOffer sends the request whose offer is ready, then the candidates gathered so
// far; the gateway's answer will carry the request's id.
func (a *app) sendOffer(ev offerEvent) {
	label := softphone.Labels[ev.cmd.Act]
	if ev.err != nil {
		a.fail(ev.cmd, label+" was not sent", &softphone.APIError{Code: "unavailable", Message: capitalize(ev.err.Error()) + "."})
		return
	}
	req := ev.cmd.Request()
	req.SDP = ev.peer.sdp()
	if req.SDP == "" {
		ev.peer.close()
		a.fail(ev.cmd, label+" was not sent", &softphone.APIError{Code: "internal", Message: "The browser made no offer."})
		return
	}
	id, err := a.client.send(req)
	if err != nil {
		ev.peer.close()
		a.fail(ev.cmd, label+" was not sent", &softphone.APIError{Code: "not-ready", Message: capitalize(err.Error()) + "."})
		return
	}
	a.sent(id, ev.cmd)
	if ev.cmd.Act == signaling.ActionMedia {
		a.mediaRefs[id] = ev.cmd.Call
	}
	a.offered(ev.peer, id, req.SDP)
}

// offered files p under the request id that carried its offer and trickles the
// candidates gathered so far.
func (a *app) offered(p *peer, id, sdp string) {
	p.ref = id
	a.offers[id] = p
	a.byRef[id] = p
	for _, m := range softphone.Unsent(p.outICE, sdp) {
		a.trickle(p, m)
	}
	p.outICE = nil
}

// localCandidate sends a candidate the browser gathered, or keeps it until the offer
// has gone out.
func (a *app) localCandidate(ev localICEEvent) {
	p := ev.peer
	if p.closed {
		return
	}
	if p.ref == "" {
		p.outICE = append(p.outICE, ev.ice)
		return
	}
	a.trickle(p, ev.ice)
}

func (a *app) trickle(p *peer, m signaling.ICE) {
	if a.noTrickle {
		return
	}
	m.Ref = p.ref
	id, err := a.client.sendMessage(&m)
	if err != nil {
		return
	}
	// Remember the last few, to recognise the gateway's refusal of one; a candidate
	// it takes gets no answer.
	a.iceIDs[id] = true
	a.iceOrder = append(a.iceOrder, id)
	if len(a.iceOrder) > maxICEIDs {
		delete(a.iceIDs, a.iceOrder[0])
		a.iceOrder = a.iceOrder[1:]
	}
}

// maxICEIDs bounds the ice message ids remembered: a refusal comes within a round trip.
const maxICEIDs = 64

// remoteCandidate applies (or keeps until the answer is applied) a candidate the
// gateway trickled for the media leg that ref's offer started.
func (a *app) remoteICE(m *signaling.ICE) {
	p := a.byRef[m.Ref]
	if p == nil || p.closed {
		return
	}
	c := remoteCandidate(m)
	if !p.remoteSet {
		p.inICE = append(p.inICE, c)
		return
	}
	go p.addRemote([]js.Value{c})
}

// remoteApplied follows setRemoteDescription: the candidates that waited for it go in.
func (a *app) remoteApplied(ev remoteEvent) {
	if ev.err != nil {
		if !ev.peer.closed {
			a.view.showAlert("The call's audio failed", capitalize(ev.err.Error())+".", "local")
		}
		return
	}
	p := ev.peer
	p.remoteSet = true
	if len(p.inICE) > 0 && !p.closed {
		cands := p.inICE
		p.inICE = nil
		go p.addRemote(cands)
	}
}

// attachAnswer gives the gateway's answer in c to the peer whose offer ref carried.
func (a *app) attachAnswer(c *signaling.Call, ref string) {
	p, ok := a.offers[ref]
	if !ok || c.SDP == "" {
		return
	}
	// The request may still fail (a call to an unknown user is refused after the
	// leg answered): its error then ends this call, so keep ref → call until then. A
	// media action's does not: the call goes on at the gateway.
	delete(a.offers, ref)
	if _, media := a.mediaRefs[ref]; media {
		p.restarting = false
		delete(a.mediaRefs, ref)
		delete(a.pending, ref)
		delete(a.reattaching, c.ID)
	} else {
		a.offerCalls[ref] = c.ID
	}
	if old := a.peers[c.ID]; old != nil && old != p {
		a.closePeer(old)
	}
	a.peers[c.ID] = p
	if a.localMute[c.ID] {
		p.setMuted(true)
	}
	sdp := c.SDP
	go func() {
		a.events <- remoteEvent{peer: p, err: p.answered(sdp)}
	}()
}

func (a *app) closePeer(p *peer) {
	if p.ref != "" {
		delete(a.byRef, p.ref)
	}
	p.close()
}

func (a *app) endPeer(call string) {
	if p := a.peers[call]; p != nil {
		a.closePeer(p)
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
	if call, ok := a.mediaRefs[e.Ref]; ok {
		// Taking the call's audio failed; the call itself goes on, and a re-attach
		// is tried again on the next tick.
		delete(a.mediaRefs, e.Ref)
		delete(a.reattaching, call)
		if p, ok := a.offers[e.Ref]; ok {
			delete(a.offers, e.Ref)
			if a.peers[call] != p {
				a.closePeer(p)
			} else {
				p.restarting = false
			}
		}
		return
	}
	if p, ok := a.offers[e.Ref]; ok {
		a.closePeer(p)
		delete(a.offers, e.Ref)
	}
	id, ok := a.offerCalls[e.Ref]
	if !ok {
		return
	}
	a.endPeer(id)
	if c := a.calls.Get(id); c != nil && c.State != signaling.CallEnded {
		ended := c.Call
		ended.State, ended.Reason = signaling.CallEnded, e.Message
		a.calls.Update(&ended, time.Now())
	}
	a.callsChanged()
}
