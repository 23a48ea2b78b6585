package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/media"
	"github.com/parkway/parkway/signaling"
)

// phones carries users' calls between their browser tabs and their SIP user agents:
// one media.Leg per call (the browser's PeerConnection wired to an RTP bridge), the
// ua.Call on the SIP side, and every state change pushed to each of the user's tabs.
//
// Goroutines: per signed-in user agent, one pump reading its events and incoming calls
// (the only code that creates, updates or forgets a call entry); per request that
// takes SIP time (dial, answer, hold…), one goroutine. All are in wg, which close waits
// for. mu guards users and closed; each phone's own mu guards its sessions and calls.
// Lock order: a phone's mu is never held while a session's outbox or the hub is
// touched, because the hub calls back into phone.focus under its own lock.
//
// A call message is a reply, not the latest-state slot: a tab must see every state of
// its calls. So a tab whose reply queue is full holds up its user's pump until the
// writer drains it or the write watchdog cuts the tab (Config.PeerTimeout); other
// users are never affected.
type phones struct {
	m    *ua.Manager
	f    *media.Factory
	addr netip.Addr // where call bridges bind their SIP-side RTP sockets
	srv  *Server
	log  *slog.Logger

	ctx    context.Context // ends at close: dials and answers give up
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	users  map[string]*phone
	closed bool
}

// phone is one user's calls and tabs.
type phone struct {
	p    *phones
	name string

	mu       sync.Mutex
	u        *ua.User // the user agent pumped now; nil before the first sign-in
	sessions map[*session]struct{}
	calls    map[string]*callEntry
	seq      int
}

// callEntry is the gateway's side of one call.
type callEntry struct {
	id       string
	call     *ua.Call
	in       *ua.Incoming // while it rings
	leg      *media.Leg
	outgoing bool
	peer     string
	state    signaling.CallState
	reason   string
	orbit    string
	seq      int // creation order: the newest live call is the focus

	// The tab whose offer the leg answered gets the answer once, with its request id.
	origin *session
	ref    string
	answer string
}

func newPhones(srv *Server, m *ua.Manager, f *media.Factory, addr netip.Addr) *phones {
	ctx, cancel := context.WithCancel(context.Background())
	return &phones{m: m, f: f, addr: addr, srv: srv, log: srv.log, ctx: ctx, cancel: cancel, users: map[string]*phone{}}
}

// join adds an authenticated session to its user's phone; its calls interface is the
// phone from then on.
func (p *phones) join(s *session, user string) *phone {
	p.mu.Lock()
	defer p.mu.Unlock()
	ph := p.users[user]
	if ph == nil {
		ph = &phone{p: p, name: user, sessions: map[*session]struct{}{}, calls: map[string]*callEntry{}}
		p.users[user] = ph
	}
	ph.mu.Lock()
	ph.sessions[s] = struct{}{}
	ph.mu.Unlock()
	return ph
}

func (ph *phone) leave(s *session) {
	ph.mu.Lock()
	delete(ph.sessions, s)
	ph.mu.Unlock()
}

// signedIn starts pumping the user's agent once the pool took its registration. A
// second sign-in of the same agent (another tab) changes nothing; a new agent after a
// sign-out gets a new pump.
func (p *phones) signedIn(user string) {
	u := p.m.User(user)
	if u == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ph := p.users[user]
	if p.closed || ph == nil {
		return
	}
	ph.mu.Lock()
	same := ph.u == u
	ph.u = u
	ph.mu.Unlock()
	if same {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ph.pump(u)
	}()
}

// pump moves u's events and incoming calls into the phone until u signs out or the
// gateway closes; then the calls it carried are over and their legs are closed.
func (ph *phone) pump(u *ua.User) {
	events, incoming := u.Events(), u.Incoming()
	for events != nil || incoming != nil {
		select {
		case e, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			ph.event(e)
		case in, ok := <-incoming:
			if !ok {
				incoming = nil
				continue
			}
			ph.mu.Lock()
			ph.entryLocked(in.Call()).in = in
			ph.mu.Unlock()
		case <-ph.p.ctx.Done():
			events, incoming = nil, nil
		}
	}
	ph.mu.Lock()
	var legs []*media.Leg
	for id, c := range ph.calls {
		if c.call.User() == u {
			legs = append(legs, c.leg)
			delete(ph.calls, id)
		}
	}
	ph.mu.Unlock()
	for _, l := range legs {
		if l != nil {
			_ = l.Close()
		}
	}
}

// entryLocked finds or makes the entry of c. An outgoing call is found by the leg the
// dialing request gave it, before its ID was known.
func (ph *phone) entryLocked(c *ua.Call) *callEntry {
	if e := ph.calls[c.ID()]; e != nil {
		return e
	}
	e := &callEntry{}
	if cm, ok := c.Leg().(*callMedia); ok && cm.entry != nil {
		e = cm.entry
	}
	e.id, e.call, e.outgoing = c.ID(), c, c.Outgoing()
	ph.seq++
	e.seq = ph.seq
	ph.calls[e.id] = e
	return e
}

// event records one call change and pushes it to every tab of the user.
func (ph *phone) event(ev ua.Event) {
	ph.mu.Lock()
	e := ph.entryLocked(ev.Call)
	e.state, e.reason, e.orbit, e.peer = ev.State, ev.Reason, ev.Orbit, ev.Call.Peer()
	var leg *media.Leg
	if e.state == signaling.CallEnded {
		leg, e.leg = e.leg, nil
		delete(ph.calls, e.id)
	}
	ph.mu.Unlock()
	ph.push(e)
	if leg != nil {
		_ = leg.Close()
	}
}

// push sends e's state to every tab, the answer SDP to the tab that offered, and the
// capabilities again, since the focus call may have changed.
func (ph *phone) push(e *callEntry) {
	ph.mu.Lock()
	msg := signaling.Call{ID: e.id, Peer: e.peer, State: e.state, Reason: e.reason, Orbit: e.orbit, Direction: signaling.CallIncoming}
	if e.outgoing {
		msg.Direction = signaling.CallOutgoing
	}
	origin, ref, answer := e.origin, e.ref, e.answer
	e.origin, e.ref, e.answer = nil, "", ""
	sessions := make([]*session, 0, len(ph.sessions))
	for s := range ph.sessions {
		sessions = append(sessions, s)
	}
	ph.mu.Unlock()
	for _, s := range sessions {
		m, id := msg, ""
		if s == origin {
			m.SDP, id = answer, ref
		}
		s.reply(id, &m)
		ph.p.srv.hub.refocus(s)
	}
}

// lookup and focus make a phone a session's calls (actions.go).
func (ph *phone) lookup(id string) (signaling.CallState, bool) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	if e := ph.calls[id]; e != nil && e.state != signaling.CallNone {
		return e.state, true
	}
	return signaling.CallNone, false
}

func (ph *phone) focus() signaling.CallState {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	var f *callEntry
	for _, e := range ph.calls {
		if e.state != signaling.CallNone && e.state != signaling.CallEnded && (f == nil || e.seq > f.seq) {
			f = e
		}
	}
	if f == nil {
		return signaling.CallNone
	}
	return f.state
}

// act carries out a request the capability rule allowed, in its own goroutine: SIP
// takes round trips (a dial waits until the far end answers) and the session must go
// on reading meanwhile. A failure is a JSON error with the request's id.
func (ph *phone) act(s *session, id string, req *signaling.Request) {
	ph.p.mu.Lock()
	if ph.p.closed {
		ph.p.mu.Unlock()
		return
	}
	ph.p.wg.Add(1)
	ph.p.mu.Unlock()
	go func() {
		defer ph.p.wg.Done()
		if e := ph.do(s, id, req); e != nil {
			e.Ref = id
			s.reply(id, e)
		}
	}()
}

func (ph *phone) do(s *session, id string, req *signaling.Request) *signaling.Error {
	ctx := ph.p.ctx
	ph.mu.Lock()
	u := ph.u
	var call *ua.Call
	var in *ua.Incoming
	e := ph.calls[req.Call]
	if e != nil {
		call, in = e.call, e.in
	}
	ph.mu.Unlock()
	if u == nil {
		return &signaling.Error{Code: signaling.CodeUnavailable, Message: "Calls are unavailable until the gateway has registered you with the phone system."}
	}
	switch req.Action {
	case signaling.ActionCall:
		return ph.dial(ctx, s, id, u, req.Target, req)
	case signaling.ActionRetrieve:
		// Retrieving is dialling the orbit (park/doc.go): the park service hands the
		// parked party over to us.
		return ph.dial(ctx, s, id, u, req.Orbit, req)
	case signaling.ActionAnswer:
		if in == nil {
			return noCall(req.Call)
		}
		return ph.answer(ctx, s, id, e, in, req)
	case signaling.ActionDecline:
		if in == nil {
			return noCall(req.Call)
		}
		return sipError("Decline", in.Decline(ctx, 603))
	case signaling.ActionHangup:
		if call == nil {
			return noCall(req.Call)
		}
		if in != nil && call.State() == signaling.CallRinging {
			return sipError("Hang up", in.Decline(ctx, 603))
		}
		return sipError("Hang up", call.Hangup(ctx))
	case signaling.ActionPark:
		if call == nil {
			return noCall(req.Call)
		}
		// The orbit reaches the tabs with the call's end (reason "parked").
		_, err := call.Park(ctx, req.Orbit)
		return sipError("Park", err)
	case signaling.ActionTransfer:
		if call == nil {
			return noCall(req.Call)
		}
		if req.Target == "" {
			return &signaling.Error{Code: signaling.CodeBadField, Field: "target", Message: "is required: attended transfer is not carried yet"}
		}
		return sipError("Transfer", call.Transfer(ctx, req.Target))
	case signaling.ActionHold, signaling.ActionResume:
		if call == nil {
			return noCall(req.Call)
		}
		if req.Action == signaling.ActionHold {
			return sipError("Hold", call.Hold(ctx))
		}
		return sipError("Resume", call.Resume(ctx))
	}
	return &signaling.Error{Code: signaling.CodeUnavailable, Message: fmt.Sprintf("%s is allowed but not available yet", actionName(req.Action))}
}

func noCall(id string) *signaling.Error {
	return &signaling.Error{Code: signaling.CodeNoCall, Field: "call", Message: fmt.Sprintf("there is no call %q", id)}
}

func sipError(what string, err error) *signaling.Error {
	if err == nil {
		return nil
	}
	return &signaling.Error{Code: signaling.CodeUnavailable, Message: fmt.Sprintf("%s failed: %v", what, err)}
}

// newLeg answers the browser's offer with a new leg. An offer without G.711 is refused
// before any PeerConnection exists: the bridge never transcodes.
func (ph *phone) newLeg(ctx context.Context, offer string, law media.Codec) (*media.Leg, string, *signaling.Error) {
	if offer == "" {
		return nil, "", &signaling.Error{Code: signaling.CodeBadField, Field: "sdp", Message: "is required: the browser's offer for the call's audio"}
	}
	if _, err := media.OfferCodecs(offer); err != nil {
		if errors.Is(err, media.ErrNoG711) {
			return nil, "", &signaling.Error{Code: signaling.CodeNoG711, Field: "sdp", Message: "offer has no G.711 (PCMU or PCMA) audio; Parkway relays G.711 without transcoding"}
		}
		return nil, "", &signaling.Error{Code: signaling.CodeBadField, Field: "sdp", Message: err.Error()}
	}
	leg, err := ph.p.f.NewLeg(&media.BridgeConfig{LocalAddr: netip.AddrPortFrom(ph.p.addr, 0), Codec: law})
	if err != nil {
		return nil, "", &signaling.Error{Code: signaling.CodeInternal, Message: "media: " + err.Error()}
	}
	answer, err := leg.AcceptGathered(ctx, webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer})
	if err != nil {
		_ = leg.Close()
		if errors.Is(err, media.ErrNoG711) {
			return nil, "", &signaling.Error{Code: signaling.CodeNoG711, Field: "sdp", Message: "offer has no G.711 (PCMU or PCMA) audio"}
		}
		return nil, "", &signaling.Error{Code: signaling.CodeBadField, Field: "sdp", Message: err.Error()}
	}
	return leg, answer.SDP, nil
}

// dial places a call with a new leg. The leg's answer goes to the tab in the call's
// first message (dialing), so the browser's media is up before the far end answers.
func (ph *phone) dial(ctx context.Context, s *session, id string, u *ua.User, target string, req *signaling.Request) *signaling.Error {
	leg, answer, e := ph.newLeg(ctx, req.SDP, media.PCMU)
	if e != nil {
		return e
	}
	cm := newCallMedia(leg)
	cm.entry = &callEntry{leg: leg, origin: s, ref: id, answer: answer}
	_, err := u.Dial(ctx, target, cm)
	if err == nil {
		return nil
	}
	_ = leg.Close() // the ended event may have closed it already; Close is idempotent
	if errors.Is(err, ua.ErrNotFound) {
		return &signaling.Error{Code: signaling.CodeNotFound, Message: fmt.Sprintf("%s: not found", target)}
	}
	if errors.Is(err, ua.ErrBusy) || errors.Is(err, ua.ErrDeclined) || (errors.Is(err, context.Canceled) && ctx.Err() == nil) {
		// The far end said no, or the user hung up while it rang: the call's ended
		// message says so, which is an outcome, not an error of the request.
		return nil
	}
	return &signaling.Error{Code: signaling.CodeUnavailable, Message: fmt.Sprintf("the call to %s failed: %v", target, err)}
}

// answer answers a ringing call with a new leg; the tab gets the SDP answer before the
// SIP side is answered, so its audio is ready when the caller's starts.
func (ph *phone) answer(ctx context.Context, s *session, id string, e *callEntry, in *ua.Incoming, req *signaling.Request) *signaling.Error {
	// The browser speaks the caller's first law, when the browser offered it, so the
	// SIP answer needs no transcoding (a SIP phone may offer PCMA only).
	law := media.PCMU
	if c := in.Codecs(); len(c) > 0 {
		law = media.Codec(c[0])
	}
	leg, answer, se := ph.newLeg(ctx, req.SDP, law)
	if se != nil {
		return se
	}
	cm := newCallMedia(leg)
	ph.mu.Lock()
	e.leg, e.origin, e.ref, e.answer = leg, s, id, answer
	cm.entry = e
	ph.mu.Unlock()
	ph.push(e)
	if _, err := in.Answer(ctx, cm); err != nil {
		ph.mu.Lock()
		if e.leg == leg {
			e.leg = nil
		}
		ph.mu.Unlock()
		_ = leg.Close()
		return sipError("Answer", err)
	}
	return nil
}

// close ends the pumps and the requests in flight and closes every leg. The user
// agents stay: whoever owns the Manager closes it.
func (p *phones) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ph := range p.users {
		ph.mu.Lock()
		for id, e := range ph.calls {
			if e.leg != nil {
				_ = e.leg.Close()
			}
			delete(ph.calls, id)
		}
		ph.mu.Unlock()
	}
}
