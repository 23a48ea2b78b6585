package main

import (
	"context"
	"maps"
	"syscall/js"
	"time"

	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/wasm/softphone"
)

// app is the one loop that owns the view: connection events, page inputs and API
// commands arrive on channels and are handled in order, so no two goroutines ever
// touch the DOM.
type app struct {
	view   *view
	client *client

	// link is whether the gateway is there (between welcome and the link failing), the
	// last pushed pool state (nil until the first) and why nothing can be done without
	// them. Buttons are enabled by signaling.Allows for its phase and the focus call's
	// state (softphone.Link.Controls).
	link          softphone.Link
	everConnected bool   // some state has been shown, so the status is a real phase
	ready         bool   // the first state has been rendered
	readySent     bool   // the API's ready event went out for this connection
	user          string // as the gateway welcomed us
	// pending maps the ids of requests in flight to their action, to title errors;
	// waiters holds those the JavaScript API waits on.
	pending map[string]signaling.Action
	waiters map[string]softphone.Waiter

	events chan any           // for goroutines that report back to the loop
	calls  softphone.CallList // the user's calls, as the gateway pushes them
	offers map[string]*peer   // peers whose offer went out, by request id
	peers  map[string]*peer   // peers of this tab's calls, by call id
	byRef  map[string]*peer   // every live peer by the id of its offer's request
	// offerCalls maps a request whose offer was answered to its call, until the call
	// connects or ends: an error for that request ends the call.
	offerCalls map[string]string
	// iceIDs are the ids of ice messages sent; noTrickle is set once the gateway
	// refuses one (it predates trickle ICE), and no more are sent.
	iceIDs    map[string]bool
	iceOrder  []string
	noTrickle bool
	// localMute is the user's mute per call, applied to the microphone at once.
	localMute map[string]bool
	// mediaRefs maps a media action in flight (re-attach, Move here, ICE restart) to
	// its call; reattaching are the calls such an action is under way for.
	mediaRefs   map[string]string
	reattaching map[string]time.Time
	// reattach are the calls the last welcome said need media: this tab, having just
	// connected, takes them back by itself (a call that loses its tab later is the
	// user's to take, with Move here, so two open tabs never race for it).
	reattach map[string]bool
	// gateway is the websocket URL of the gateway that welcomed the tab last. When a
	// welcome comes from another (the last one died), the tab's calls may still be
	// on their way to this one (adopted, issue #11): until adoptUntil the tab keeps
	// them, re-attaches each as it arrives needing media, and only then ends those
	// the new gateway never named (adoptSeen).
	gateway    string
	adoptUntil time.Time
	adoptSeen  map[string]bool

	parked    *signaling.Parked
	ring      ringer
	published signaling.Capabilities
}

func main() {
	mark("parkway-wasm-started")
	v, err := bindView(document)
	if err != nil {
		fail("The softphone cannot start: " + err.Error())
		return
	}
	setAttr(document.Get("documentElement"), "data-client", "running")

	events := make(chan any, 64)
	// Inputs are dropped, not queued, if the loop is behind: a js.Func must not block,
	// and a press nobody saw is better than a page that freezes.
	inputs := make(chan any, 16)
	c := newClient(events, requestedUser())
	a := &app{view: v, client: c, events: events,
		pending: map[string]signaling.Action{}, waiters: map[string]softphone.Waiter{},
		offers: map[string]*peer{}, peers: map[string]*peer{}, byRef: map[string]*peer{},
		offerCalls: map[string]string{}, iceIDs: map[string]bool{}, localMute: map[string]bool{},
		mediaRefs: map[string]string{}, reattaching: map[string]time.Time{}, reattach: map[string]bool{},
		link: softphone.Link{WaitReason: "Connecting…"}}

	offer := func(in any) bool {
		select {
		case inputs <- in:
			return true
		default:
			return false
		}
	}
	v.onInput(func(in any) { offer(in) })
	v.onSignIn(c.signInAs)
	v.onDismiss()
	v.releases = append(v.releases, listenKeys(func(in any) { offer(in) }))
	v.releases = append(v.releases, installAPI(func(cmd softphone.Command) bool { return offer(apiEvent{cmd}) }))
	// Back online: retry now rather than at the end of the current backoff.
	v.releases = append(v.releases, listen(global, "online", func(js.Value) { c.poke() }))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer v.close()
	go c.run(ctx)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case ev := <-events:
			a.handle(ev)
		case in := <-inputs:
			a.input(in)
		case now := <-tick.C:
			a.view.tickTimers(&a.calls, now)
			if a.parked != nil && len(a.parked.Calls) > 0 {
				a.showParked()
			}
			a.keepMedia(now)
			a.adoptionOver(now)
			a.ring.keep()
		}
	}
}

func (a *app) handle(ev any) {
	switch ev := ev.(type) {
	case connEvent:
		a.view.showConnection(ev)
		publish("connection", js.ValueOf(map[string]any{"state": string(ev.status)}))
		if ev.status != connConnected {
			a.disconnected(ev.status)
		}
	case welcomeEvent:
		// A link's first welcome lists the calls the gateway still carries, each of
		// which it resends: the others are over. A later one answers a refreshed token.
		reconnected := !a.link.Connected
		moved := a.gateway != "" && ev.gateway != a.gateway
		a.gateway = ev.gateway
		a.link.Connected = true
		a.user = ev.welcome.User
		a.view.showUser(ev.welcome.User)
		a.reattach = map[string]bool{}
		for _, id := range ev.welcome.NeedsMedia {
			a.reattach[id] = true
		}
		switch {
		case reconnected && moved:
			a.awaitAdoption(ev.welcome.Calls, time.Now())
		case reconnected:
			a.reconcile(ev.welcome.Calls)
		}
	case stateEvent:
		a.everConnected = true
		a.link.State = ev.state
		a.refresh()
		a.view.showState(ev.state)
		a.publishState(true)
		if !a.ready {
			a.ready = true
			a.view.markReady()
		}
		a.keepMedia(time.Now())
		if a.link.Connected && !a.readySent {
			a.readySent = true
			publish("ready", js.ValueOf(map[string]any{"user": a.user}))
		}
	case errorEvent:
		a.gatewayError(ev.err)
	case callEvent:
		a.callChanged(ev)
	case parkedEvent:
		a.parked = ev.parked
		a.showParked()
		publish("parked", messageData(ev.parked))
	case iceEvent:
		a.remoteICE(ev.ice)
	case offerEvent:
		a.sendOffer(ev)
	case localICEEvent:
		a.localCandidate(ev)
	case remoteEvent:
		a.remoteApplied(ev)
	case iceStateEvent:
		a.iceState(ev)
	case restartEvent:
		a.sendRestart(ev)
	}
}

// disconnected: nothing can be asked of a gateway that is not there. Calls and their
// media stay (the gateway keeps them for a while); offers whose answers can no longer
// come are closed, and API commands waiting on the gateway are told.
func (a *app) disconnected(status connStatus) {
	a.link.Connected = false
	a.readySent = false
	a.pending = map[string]signaling.Action{}
	for id, w := range a.waiters {
		w.Cmd.Reply.Fail(&softphone.APIError{Code: string(signaling.CodeUnavailable), Message: "The connection to the gateway was lost before it answered."})
		delete(a.waiters, id)
	}
	for id, p := range a.offers { // their answers will never come
		if call, media := a.mediaRefs[id]; media && a.peers[call] == p {
			p.restarting = false // an ICE restart's: the peer stays, the next tick restarts again
		} else {
			a.closePeer(p)
		}
		delete(a.offers, id)
	}
	a.mediaRefs = map[string]string{}
	a.reattaching = map[string]time.Time{}
	a.link.WaitReason = "Connecting…"
	switch status {
	case connReconnecting:
		a.link.WaitReason = "Reconnecting to the gateway…"
	case connSignedOut:
		a.link.WaitReason = "Sign in to use the softphone"
	}
	a.view.waiting(a.link.WaitReason, a.everConnected)
	a.showParked()
}

// reconcile ends, with their media, the calls this tab shows that the gateway's
// welcome does not list: it no longer has them. The listed ones stay as they are
// until their call messages, which follow the welcome, update them.
func (a *app) reconcile(live []string) {
	gone := a.calls.Reconcile(live, time.Now())
	if len(gone) == 0 {
		return
	}
	for _, id := range gone {
		a.endPeer(id)
		delete(a.localMute, id)
		a.publishCall(a.calls.Get(id))
	}
	a.callsChanged()
}

// callChanged follows a call message: the answer to our offer goes to its peer, a call
// that ended closes its peer, and API commands waiting for this change are settled.
func (a *app) callChanged(ev callEvent) {
	c := ev.call
	if a.adoptSeen != nil {
		a.adoptSeen[c.ID] = true
	}
	a.attachAnswer(c, ev.ref)
	prev := a.calls.State(c.ID)
	switch c.State {
	case signaling.CallEnded:
		a.endPeer(c.ID)
		delete(a.localMute, c.ID)
		if prev != signaling.CallEnded && c.Reason == "parked" && c.Orbit != "" {
			peer := c.Peer
			if old := a.calls.Get(c.ID); peer == "" && old != nil {
				peer = old.Peer
			}
			if peer = softphone.DisplayPeer(peer); peer == "" {
				peer = "the call"
			}
			setText(a.view.parkNotice, "Parked "+peer+" on orbit "+c.Orbit)
			a.view.clearOrbit() // else the next Park would go to this orbit by accident
		}
	case signaling.CallActive:
		for ref, id := range a.offerCalls { // connected: the request succeeded
			if id == c.ID {
				if a.pending[ref] == signaling.ActionRetrieve {
					a.view.clearOrbit()
				}
				delete(a.offerCalls, ref)
				delete(a.pending, ref)
			}
		}
	}
	a.calls.Update(c, time.Now())
	a.dropMoved(c.ID)
	for id, w := range a.waiters {
		if ok, call, e := w.Done(c, ev.ref); ok {
			if e != nil {
				w.Cmd.Reply.Fail(e)
			} else {
				w.Cmd.Reply.OK(call)
			}
			delete(a.waiters, id)
		}
	}
	a.publishCall(a.calls.Get(c.ID))
	a.callsChanged()
}

// callsChanged re-renders what depends on the calls: the list, the buttons, the ring.
func (a *app) callsChanged() {
	a.view.showCalls(&a.calls, a.calls.Focus(), a.muted, time.Now())
	a.refresh()
	a.publishState(false)
	a.ring.set(a.anyRinging())
}

func (a *app) anyRinging() bool {
	for _, c := range a.calls.Calls {
		if c.State == signaling.CallRinging && c.Direction != signaling.CallOutgoing {
			return true
		}
	}
	return false
}

// muted reports whether c's microphone is off: the user's own press, or the gateway's
// word.
func (a *app) muted(c *softphone.ListedCall) bool {
	if m, ok := a.localMute[c.ID]; ok {
		return m
	}
	return c.Muted
}

func (a *app) publishCall(c *softphone.ListedCall) {
	if c == nil {
		return
	}
	publish("call", callData(c.ID, softphone.DisplayPeer(c.Peer), c.State, c.Direction, c.Reason, c.Orbit, a.muted(c)))
}

// capabilities is the capability rule for the focus call, as the buttons show it.
func (a *app) capabilities() signaling.Capabilities {
	if a.link.State == nil {
		return nil
	}
	return signaling.CapabilitiesFor(a.link.State.Phase, a.calls.State(a.calls.Focus()))
}

// publishState sends the API's state event: always for a pushed state, else only when
// the focus call's capabilities changed.
func (a *app) publishState(pushed bool) {
	if a.link.State == nil || !a.link.Connected {
		return
	}
	caps := a.capabilities()
	if !pushed && maps.Equal(caps, a.published) {
		return
	}
	a.published = caps
	s := *a.link.State
	s.Capabilities = caps
	publish("state", messageData(&s))
}

func (a *app) showParked() {
	a.view.showParked(a.parked, a.link.RetrieveVerdict(), time.Now())
}

// fail shows a problem that stops the client, where the loader shows its own.
func fail(msg string) {
	global.Get("console").Call("error", "parkway:", msg)
	if el := query(document, `[data-part="loader"]`); present(el) {
		setText(el, msg)
		el.Set("hidden", false)
	}
	setAttr(document.Get("documentElement"), "data-client", "failed")
}
