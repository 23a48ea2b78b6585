//go:build js && wasm

package main

import (
	"context"
	"syscall/js"

	"github.com/parkway/parkway/signaling"
)

// app is the one loop that owns the view: connection events and button presses arrive
// on channels and are handled in order, so no two goroutines ever touch the DOM.
type app struct {
	view   *view
	client *client

	connected     bool   // between welcome and the link failing
	everConnected bool   // some state has been shown, so the status is a real phase
	ready         bool   // the first state has been rendered
	focusCall     string // the call actions are about; none until calls exist
	// pending maps the ids of requests in flight to their action, to title errors.
	pending map[string]signaling.Action

	events chan<- any       // for goroutines that report back to the loop
	calls  callList         // the user's calls, as the gateway pushes them
	offers map[string]*peer // peers whose offer went out, by request id
	peers  map[string]*peer // peers of this tab's calls, by call id
	// offerCalls maps a request whose offer was answered to its call, until the call
	// connects or ends: an error for that request ends the call.
	offerCalls map[string]string
}

func main() {
	mark("parkway-wasm-started")
	v, err := bindView(document)
	if err != nil {
		fail("The softphone cannot start: " + err.Error())
		return
	}
	setAttr(document.Get("documentElement"), "data-client", "running")

	events := make(chan any, 32)
	// Presses are dropped, not queued, if the loop is behind: a js.Func must not block,
	// and a press nobody saw is better than a page that freezes.
	presses := make(chan signaling.Action, 8)
	c := newClient(events, requestedUser())
	a := &app{view: v, client: c, pending: map[string]signaling.Action{}, events: events,
		offers: map[string]*peer{}, peers: map[string]*peer{}, offerCalls: map[string]string{}}

	v.onAction(func(act signaling.Action) {
		select {
		case presses <- act:
		default:
		}
	})
	v.onSignIn(c.signInAs)
	v.onDismiss()
	// Back online: retry now rather than at the end of the current backoff.
	v.releases = append(v.releases, listen(global, "online", func(js.Value) { c.poke() }))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer v.close()
	go c.run(ctx)
	for {
		select {
		case ev := <-events:
			a.handle(ev)
		case act := <-presses:
			a.do(act)
		}
	}
}

func (a *app) handle(ev any) {
	switch ev := ev.(type) {
	case connEvent:
		a.view.showConnection(ev)
		if ev.status != connConnected {
			a.connected = false
			a.pending = map[string]signaling.Action{}
			for id, p := range a.offers { // their answers will never come
				p.close()
				delete(a.offers, id)
			}
			reason := "Connecting…"
			switch ev.status {
			case connReconnecting:
				reason = "Reconnecting to the gateway…"
			case connSignedOut:
				reason = "Sign in to use the softphone"
			}
			a.view.waiting(reason, a.everConnected)
		}
	case welcomeEvent:
		a.connected = true
		a.view.showUser(ev.welcome.User)
	case stateEvent:
		a.everConnected = true
		a.view.showState(ev.state)
		if !a.ready {
			a.ready = true
			a.view.markReady()
		}
	case errorEvent:
		a.offerRefused(ev.err)
		a.showGatewayError(ev.err)
	case callEvent:
		a.callChanged(ev)
	case offerEvent:
		a.sendOffer(ev)
	case remoteEvent:
		a.view.showAlert("The call's audio failed", capitalize(ev.err.Error())+".", "local")
	}
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
