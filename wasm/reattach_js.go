package main

import (
	"context"
	"syscall/js"
	"time"

	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/wasm/softphone"
)

// Keeping a call's audio (issue 10). A call whose tab went away (a reload, a closed
// window) waits at the gateway for a tab of the user to take it back: a tab that
// connects then finds it in its welcome as needing media and re-attaches it by itself —
// a new RTCPeerConnection whose offer goes out in a media action (or, when the tab's own
// connection for the call still carries audio because only its websocket went, an ICE
// restart on it). A call live on another tab of the user, or on none while this tab was
// open already, shows "Move here", which does the same on the user's word; the tab that
// had it hears that it moved away and closes its connection.
//
// ICE restart: when this tab's connection for a call goes disconnected or failed
// while the gateway is reachable, the tab makes an offer with new ICE credentials
// (iceRestart) on the same RTCPeerConnection and sends it as a media action; the
// gateway answers it on the same leg, so the far end notices nothing. It tries again
// every restartEvery while the connection stays down, and waits for the websocket if
// that is down too. A tab whose websocket came back while its connection still carries
// a call the gateway now says needs media restarts ICE on it too: the gateway knows the
// connection by its DTLS fingerprint and keeps the call's leg.
//
// Test hook: window.__parkwayICERestarts counts the restarts begun.

// restartEvery spaces ICE restarts of one connection that stays down.
const restartEvery = 4 * time.Second

// retryReattach is how long a re-attach may take before the tab tries again.
const retryReattach = 10 * time.Second

// keepMedia re-attaches the calls that wait for a tab and restarts ICE where it is
// down, once the gateway is there: on every state and every second.
func (a *app) keepMedia(now time.Time) {
	if !a.link.Ready() {
		return
	}
	for _, id := range a.calls.NeedingMedia() {
		if p := a.peers[id]; !a.reattach[id] && (p == nil || !iceConnected(p)) {
			continue // not this tab's to take unasked: Move here
		}
		if t, ok := a.reattaching[id]; ok && now.Sub(t) < retryReattach {
			continue
		}
		a.reattaching[id] = now
		if p := a.peers[id]; p != nil && !p.iceDown && iceConnected(p) {
			// This tab's connection still carries the call (only the websocket
			// went): the gateway keeps its leg for an offer from it.
			a.startRestart(p, id, now)
			continue
		}
		a.endPeer(id)
		a.run(softphone.Command{Act: signaling.ActionMedia, Call: id})
	}
	for id, p := range a.peers {
		if a.dropMoved(id) {
			continue
		}
		if p.iceDown && !p.restarting && now.Sub(p.restarted) >= restartEvery {
			a.startRestart(p, id, now)
		}
	}
}

// dropMoved closes this tab's connection for a call that moved to another tab once
// that connection is down (the gateway closed its leg), and reports whether it did. A
// connection still up is kept: the "other tab" may be this one's old websocket session,
// which the gateway has not seen go yet — then the call soon needs media, and this tab
// takes it back on the same connection.
func (a *app) dropMoved(call string) bool {
	c, p := a.calls.Get(call), a.peers[call]
	if c == nil || p == nil || !c.MovedAway() || (iceConnected(p) && !p.iceDown) {
		return false
	}
	a.endPeer(call)
	return true
}

func iceConnected(p *peer) bool {
	switch p.pc.Get("iceConnectionState").String() {
	case "connected", "completed":
		return true
	}
	return false
}

// iceState follows a connection's ICE state: down starts a restart at once.
func (a *app) iceState(ev iceStateEvent) {
	p := ev.peer
	if p.closed {
		return
	}
	switch ev.state {
	case "disconnected", "failed", "closed":
		p.iceDown = true
		a.keepMedia(time.Now())
	case "connected", "completed":
		p.iceDown = false
	}
}

// startRestart makes p's ICE-restart offer off the loop; it comes back as a
// restartEvent. p's candidates wait for the new request's id.
func (a *app) startRestart(p *peer, call string, now time.Time) {
	p.restarting, p.restarted = true, now
	if p.ref != "" {
		delete(a.byRef, p.ref)
		p.ref = ""
	}
	p.remoteSet, p.inICE = false, nil
	n := global.Get("__parkwayICERestarts")
	count := 1
	if n.Type() == js.TypeNumber {
		count += n.Int()
	}
	global.Set("__parkwayICERestarts", count)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		raw := p.pc
		ev := restartEvent{peer: p, call: call}
		offer, err := await(ctx, raw.Call("createOffer", map[string]any{"iceRestart": true}))
		if err == nil {
			_, err = await(ctx, raw.Call("setLocalDescription", offer))
		}
		if err == nil {
			ev.sdp = raw.Get("localDescription").Get("sdp").String()
		}
		ev.err = err
		a.events <- ev
	}()
}

// sendRestart sends p's ICE-restart offer as a media action for its call.
func (a *app) sendRestart(ev restartEvent) {
	p := ev.peer
	if p.closed {
		return
	}
	var id string
	err := ev.err
	if err == nil {
		id, err = a.client.send(&signaling.Request{Action: signaling.ActionMedia, Call: ev.call, SDP: ev.sdp})
	}
	if err != nil {
		p.restarting = false // the next tick tries again
		delete(a.reattaching, ev.call)
		global.Get("console").Call("warn", "parkway: ICE restart not sent:", err.Error())
		return
	}
	a.pending[id] = signaling.ActionMedia
	a.mediaRefs[id] = ev.call
	a.offered(p, id, ev.sdp)
}

// adoptWait is how long a tab that moved to another gateway waits for its calls to
// be carried on there: the dead gateway is noticed about 3 s after the cluster's NATS
// takes writes again, which a Raft election after the death can hold up for several
// seconds (up to 16 s seen on a loaded machine). It is the gateway's re-attach grace.
const adoptWait = 30 * time.Second

// awaitAdoption starts the wait of a tab whose gateway changed: the calls it carried
// audio for lose their connections (they went to the dead gateway; a new gateway needs
// a new RTCPeerConnection) and are re-attached by keepMedia when the new gateway says
// they need media; listed holds the calls its welcome named.
func (a *app) awaitAdoption(listed []string, now time.Time) {
	a.adoptUntil = now.Add(adoptWait)
	a.adoptSeen = map[string]bool{}
	for _, id := range listed {
		a.adoptSeen[id] = true
	}
	for id := range a.peers {
		a.reattach[id] = true
		a.endPeer(id)
	}
}

// adoptionOver ends, once the wait is over, the calls the new gateway never named.
func (a *app) adoptionOver(now time.Time) {
	if a.adoptSeen == nil || now.Before(a.adoptUntil) {
		return
	}
	seen := a.adoptSeen
	a.adoptSeen = nil
	live := make([]string, 0, len(seen))
	for id := range seen {
		live = append(live, id)
	}
	a.reconcile(live)
}
