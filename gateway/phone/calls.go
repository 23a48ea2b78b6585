package phone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/gateway/edge"
	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/media"
	"github.com/parkway/parkway/metrics"
	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/sip/calltrace"
)

// phones carries users' calls between their browser tabs and their SIP user agents:
// one media.Leg per call (the browser's PeerConnection wired to an RTP bridge), the
// ua.Call on the SIP side, and every state change pushed to each of the user's tabs.
//
// Goroutines: per signed-in user agent, one pump reading its events and incoming calls
// (the only code that creates, updates or forgets a call entry); per request that
// takes SIP time (dial, answer, hold…), one goroutine; one parked-calls feed for the
// gateway (parked.go). All are in wg, which close waits for. mu guards users and
// closed; each phone's own mu guards its sessions, calls and trickle refs, and its out
// orders what goes to its tabs. The lock order is in doc.go.
//
// A call message is a reply, not the latest-state slot: a tab must see every state of
// its calls. So a tab whose reply queue is full holds up its user's pump until the
// writer drains it or the write watchdog cuts the tab (Config.PeerTimeout); other
// users are never affected.
type phones struct {
	m    *ua.Manager
	ctrl Controller // the DR state: which pools are up (orbitRefusal)
	f    *media.Factory
	addr netip.Addr // where call bridges bind their SIP-side RTP sockets
	log  *slog.Logger
	regs *registrations // signs the users in and out

	ctx    context.Context // ends at close: dials and answers give up
	cancel context.CancelFunc
	wg     sync.WaitGroup

	parked *parkedFeed // the calls parked on every pool that is up, for every session (parked.go)
	// unwatch ends the parked feed's subscription to the DR controller's snapshots.
	unwatch func()

	// maxCalls bounds each user's calls (Config.MaxCalls); 0: none.
	maxCalls int
	// metrics counts actions and their durations (Config.Metrics); nil: none.
	metrics *metrics.Gateway
	// grace is how long a call whose tab went away waits for another (reattach.go);
	// hold is what its far end hears meanwhile once the tab's media is gone.
	grace time.Duration
	hold  media.Hold

	mu     sync.Mutex
	users  map[string]*phone
	closed bool
}

// phone is one user's calls and tabs.
//
// out serialises what goes to the tabs — a call's pushes and a new tab's greeting —
// so a tab never sees a call's older state after a newer one. It is taken before mu
// or the hub's lock, never while holding either.
type phone struct {
	p    *phones
	name string

	out sync.Mutex

	mu       sync.Mutex
	u        *ua.User // the user agent pumped now; nil before the first sign-in
	sessions map[*edge.Session]struct{}
	calls    map[string]*callEntry
	// dialing are the entries of dials sent whose call the ua has not reported yet:
	// they count against maxCalls like live calls, so parallel dials cannot pass it.
	dialing map[*callEntry]struct{}
	seq     int
	// refs finds the media leg of a call, answer or retrieve action by the tab and the
	// action's id, for the ICE candidates the tab trickles (callmedia.go).
	refs map[refKey]*iceRef
	// finished holds, per tab, the last maxFinishedRefs refs whose action failed or
	// whose call ended: candidates still trickling for them are dropped (callmedia.go).
	finished map[*edge.Session][]string
}

// callEntry is the gateway's side of one call.
type callEntry struct {
	id       string
	call     *ua.Call
	in       *ua.Incoming // while it rings
	leg      *media.Leg
	outgoing bool
	trace    string // the call's trace id (ua.Call.Trace), on its messages and log lines
	peer     string
	state    signaling.CallState
	reason   string
	orbit    string
	muted    bool // the user muted the microphone: the bridge drops the tab's audio
	seq      int  // creation order: the newest live call is the focus
	// xfer is set while the call is one of the two of an attended transfer: the
	// consult call's far end takes the transferee in its place, and the "replaced"
	// that ends it here means the transfer happened.
	xfer bool

	// Re-attach (reattach.go). holder is the tab whose PeerConnection leg serves; nil
	// once that tab went away, while orphaned (the grace timer) runs. kept: the call
	// keeps its user's registration meanwhile; detached: the bridge plays the hold
	// sound. mediaMu lets one media action at a time move the call.
	holder   *edge.Session
	orphaned *time.Timer
	kept     bool
	detached bool
	mediaMu  sync.Mutex

	// The tab whose offer the leg answered gets the answer once, with its request id.
	origin  *edge.Session
	ref     string
	answer  string
	trickle *outTrickle // the leg's own candidates, held until the answer is queued
}

func newPhones(ctrl Controller, regs *registrations, log *slog.Logger, m *ua.Manager, f *media.Factory, addr netip.Addr) *phones {
	ctx, cancel := context.WithCancel(context.Background())
	p := &phones{m: m, ctrl: ctrl, f: f, addr: addr, log: log, regs: regs, ctx: ctx, cancel: cancel, users: map[string]*phone{}}
	p.parked = newParkedFeed(p, ctrl.Snapshot())
	p.unwatch = ctrl.Subscribe(p.parked.watchPools)
	p.parked.watchPools(ctrl.Snapshot())
	p.wg.Go(func() { p.parked.run(ctx) })
	return p
}

// join adds an authenticated session to its user's phone; its calls interface is the
// phone from then on. The session is greeted at once: its welcome (with id, the auth
// frame's), listing the user's live calls, a state, then a call message for each of
// those calls and the parked-calls list, so a tab that reconnected rebuilds what it
// showed and ends at once what it showed that is gone (issue 6 item 5).
func (p *phones) join(s *edge.Session, user, id string, w *signaling.Welcome) *phone {
	ph := p.phoneFor(user)
	ph.greet(s, id, w)
	p.parked.greet(s)
	return ph
}

// greet adds s to the phone's tabs and sends it its welcome w listing the live calls,
// then those calls, without SDP. Under ph.out, so the list and the call messages are
// the same calls and no push of theirs comes between. Their state message goes
// first: the state the hub pushes reaches the tab after its welcome, but the writer
// may put queued replies before it (edge/writer.go), and a softphone must learn the phase
// before it lists calls. A second state is harmless.
func (ph *phone) greet(s *edge.Session, id string, w *signaling.Welcome) {
	ph.out.Lock()
	defer ph.out.Unlock()
	focus := ph.Focus()
	ph.mu.Lock()
	ph.sessions[s] = struct{}{}
	live := ph.liveLocked()
	msgs := make([]signaling.Call, len(live))
	w.Calls, w.NeedsMedia = nil, nil
	for i, e := range live {
		msgs[i] = e.message()
		msgs[i].Media = e.mediaFor(s)
		w.Calls = append(w.Calls, e.id)
		if msgs[i].Media == signaling.MediaNeeded {
			w.NeedsMedia = append(w.NeedsMedia, e.id)
		}
	}
	ph.mu.Unlock()
	s.Reply(id, w)
	s.QueueState(focus)
	for i := range msgs {
		s.Reply("", &msgs[i])
	}
}

// liveLocked lists the calls going on, oldest first, as a tab first saw them; under
// ph.mu.
func (ph *phone) liveLocked() []*callEntry {
	var live []*callEntry
	for _, e := range ph.calls {
		if e.state != signaling.CallNone && e.state != signaling.CallEnded {
			live = append(live, e)
		}
	}
	slices.SortFunc(live, func(a, b *callEntry) int { return a.seq - b.seq })
	return live
}

// LiveIDs are the ids of the calls going on, oldest first (a refreshed welcome).
func (ph *phone) LiveIDs() []string {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	var ids []string
	for _, e := range ph.liveLocked() {
		ids = append(ids, e.id)
	}
	return ids
}

// Leave forgets a tab that closed and uncounts it for the user's registration. Its
// calls go on: they end when the user hangs up, or when the user's last tab has been
// gone for the sign-out grace (registrations.go).
func (ph *phone) Leave(s *edge.Session) {
	ph.leave(s)
	ph.p.regs.leave(ph.name)
}

// leave forgets a tab that closed.
func (ph *phone) leave(s *edge.Session) {
	ph.mu.Lock()
	delete(ph.sessions, s)
	delete(ph.finished, s)
	for k := range ph.refs {
		if k.s == s {
			delete(ph.refs, k)
		}
	}
	ph.mu.Unlock()
	ph.orphanTab(s)
	ph.p.parked.leave(s)
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
		case _, ok := <-incoming:
			// The ringing event carried it already (ev.Incoming): drained so the
			// queue does not grow. Taking it from here instead raced the event: a tab
			// shown the ringing call could decline it before the phone could.
			if !ok {
				incoming = nil
			}
		case <-ph.p.ctx.Done():
			events, incoming = nil, nil
		}
	}
	ph.mu.Lock()
	var legs []*media.Leg
	releases := 0
	for id, c := range ph.calls {
		if c.call.User() == u {
			legs = append(legs, c.leg)
			ph.finishLegLocked(c.leg)
			if ph.settleLocked(c) {
				releases++
			}
			delete(ph.calls, id)
		}
	}
	ph.mu.Unlock()
	for range releases {
		ph.p.regs.leave(ph.name)
	}
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
	if cm, ok := c.Leg().(*CallMedia); ok && cm.entry != nil {
		e = cm.entry
		delete(ph.dialing, e) // a live call now, counted as one
	}
	e.id, e.call, e.outgoing, e.trace = c.ID(), c, c.Outgoing(), c.Trace()
	ph.seq++
	e.seq = ph.seq
	ph.calls[e.id] = e
	return e
}

// event records one call change and pushes it to every tab of the user.
func (ph *phone) event(ev ua.Event) {
	ph.mu.Lock()
	e := ph.entryLocked(ev.Call)
	// The tabs name a peer by user part, as the parked list does: "sip:carol@pool-a"
	// is carol, a number stays a number.
	e.state, e.reason, e.orbit, e.peer = ev.State, ev.Reason, ev.Orbit, uriUser(ev.Call.Peer())
	if ev.Incoming != nil {
		e.in = ev.Incoming // before any tab is shown the call ringing
	}
	var leg *media.Leg
	release := false
	if e.state == signaling.CallEnded {
		if e.xfer && e.reason == "replaced" {
			// The consult call of an attended transfer: its far end took the
			// transferee in our place (RFC 3891), which is the transfer succeeding.
			e.reason = "transferred"
		}
		leg, e.leg = e.leg, nil
		ph.finishLegLocked(leg)
		release = ph.settleLocked(e)
		delete(ph.calls, e.id)
	}
	logged := []any{"user", ph.name, "call", e.id, "state", e.state, "reason", e.reason, calltrace.Attr, e.trace}
	ph.mu.Unlock()
	ph.p.log.Info("call", logged...)
	if release {
		ph.p.regs.leave(ph.name)
	}
	ph.push(e)
	if leg != nil {
		_ = leg.Close()
	}
}

// message is e as a call message, without SDP; under ph.mu.
func (e *callEntry) message() signaling.Call {
	m := signaling.Call{ID: e.id, Peer: e.peer, State: e.state, Reason: e.reason, Orbit: e.orbit, Muted: e.muted, Direction: signaling.CallIncoming}
	if e.outgoing {
		m.Direction = signaling.CallOutgoing
	}
	m.Trace = e.trace
	return m
}

// push sends e's state to every tab, the answer SDP to the tab that offered, and the
// capabilities again, since the focus call may have changed.
func (ph *phone) push(e *callEntry) { ph.pushTo(e, nil, "") }

// pushTo is push with the request id going to the tab that asked (to, when not nil)
// instead of the SDP answer going to the tab that offered. The leg's own ICE
// candidates start trickling to the offering tab once its answer is queued: a browser
// cannot add a candidate before it has the description it belongs to.
func (ph *phone) pushTo(e *callEntry, to *edge.Session, id string) {
	ph.out.Lock()
	defer ph.out.Unlock()
	ph.mu.Lock()
	msg := e.message()
	var (
		origin      *edge.Session
		ref, answer string
		tr          *outTrickle
	)
	if to == nil {
		origin, ref, answer, tr = e.origin, e.ref, e.answer, e.trickle
		e.origin, e.ref, e.answer, e.trickle = nil, "", "", nil
	} else {
		origin, ref = to, id
	}
	sessions := make([]*edge.Session, 0, len(ph.sessions))
	where := make([]string, 0, len(ph.sessions))
	for s := range ph.sessions {
		sessions = append(sessions, s)
		where = append(where, e.mediaFor(s))
	}
	ph.mu.Unlock()
	for i, s := range sessions {
		m, mid := msg, ""
		m.Media = where[i]
		if s == origin {
			m.SDP, mid = answer, ref
		}
		s.Reply(mid, &m)
		if s == origin && tr != nil {
			tr.start()
		}
		s.Refocus()
	}
}

// Finished refs. A tab trickles its candidates for a call, answer or retrieve until it
// hears how the action went; those that cross a refusal, or the call's end, on the
// wire must not each come back as an error the page would show for the action
// (callmedia.go refuses a ref it has no media for). So the refs of the last
// maxFinishedRefs actions per tab that failed or whose call ended are remembered, and
// candidates for them are dropped; a ref the tab never used is still refused.

// maxFinishedRefs bounds the finished refs remembered per tab: a tab trickles for the
// action it just sent, not for old ones.
const maxFinishedRefs = 32

// Trickled takes one candidate a tab sent for ref; it reports whether the session
// goes on.
func (ph *phone) Trickled(s *edge.Session, id string, m *signaling.ICE) bool {
	e := ph.addCandidate(s, m)
	if e != nil && e.Code == signaling.CodeNoCall && ph.finishedRef(s, m.Ref) {
		// The ref was finished before addCandidate looked it up: both happen under
		// ph.mu, and finishing records the ref as it deletes it.
		return true
	}
	if e != nil {
		e.Ref = id
		return s.Reply(id, e)
	}
	return true
}

func (ph *phone) finishedRef(s *edge.Session, ref string) bool {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	return slices.Contains(ph.finished[s], ref)
}

// finishRef forgets the media action (s, id), which failed.
func (ph *phone) finishRef(s *edge.Session, id string) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	ph.finishRefLocked(refKey{s, id})
}

// finishLegLocked forgets the refs of a leg that is closing; under ph.mu.
func (ph *phone) finishLegLocked(leg *media.Leg) {
	if leg == nil {
		return
	}
	for k, r := range ph.refs {
		if r.leg == leg {
			ph.finishRefLocked(k)
		}
	}
}

// finishRefLocked deletes the ref k and remembers it as finished; under ph.mu.
func (ph *phone) finishRefLocked(k refKey) {
	delete(ph.refs, k)
	if _, ok := ph.sessions[k.s]; !ok {
		return // the tab is gone
	}
	done := ph.finished[k.s]
	if slices.Contains(done, k.ref) {
		return
	}
	if len(done) >= maxFinishedRefs {
		done = slices.Delete(done, 0, len(done)-maxFinishedRefs+1)
	}
	ph.finished[k.s] = append(done, k.ref)
}

// A phone is the edge.Calls of each of its user's sessions.
var _ edge.Calls = (*phone)(nil)

// Lookup is the state of the call id, as the capability rule checks it.
func (ph *phone) Lookup(id string) (signaling.CallState, bool) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	if e := ph.calls[id]; e != nil && e.state != signaling.CallNone {
		return e.state, true
	}
	return signaling.CallNone, false
}

// Focus is the state of the newest live call, the one the tabs' capabilities are for.
func (ph *phone) Focus() signaling.CallState {
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

// Act carries out a request the capability rule allowed, in its own goroutine: SIP
// takes round trips (a dial waits until the far end answers) and the session must go
// on reading meanwhile. A failure is a JSON error with the request's id.
func (ph *phone) Act(s *edge.Session, id string, req *signaling.Request) {
	ph.p.mu.Lock()
	if ph.p.closed {
		ph.p.mu.Unlock()
		return
	}
	ph.p.wg.Add(1)
	ph.p.mu.Unlock()
	media := startsMedia(req.Action) || req.Action == signaling.ActionMedia
	if media {
		// Before the request runs: the tab may trickle candidates for it at once.
		ph.openRef(s, id)
	}
	go func() {
		defer ph.p.wg.Done()
		start := time.Now()
		e := ph.do(s, id, req)
		ph.p.observeAction(req, start, e)
		if e != nil {
			if media {
				ph.finishRef(s, id)
			}
			e.Ref = id
			s.Reply(id, e)
		}
	}()
}

func (ph *phone) do(s *edge.Session, id string, req *signaling.Request) *signaling.Error {
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
	case signaling.ActionCall, signaling.ActionRetrieve:
		target := req.Target
		if req.Action == signaling.ActionRetrieve {
			// Retrieving is dialling the orbit (park/doc.go): the park service hands
			// the parked party over to us.
			target = req.Orbit
			if e := ph.p.orbitRefusal(req.Orbit); e != nil {
				return e
			}
		}
		entry, e := ph.reserveCall()
		if e != nil {
			return e
		}
		defer ph.releaseCall(entry)
		return ph.dial(ctx, s, id, u, target, req, entry)
	case signaling.ActionAnswer:
		if in == nil {
			return noCall(req.Call)
		}
		return ph.answer(ctx, s, id, e, in, req)
	case signaling.ActionDecline:
		if in == nil {
			return noCall(req.Call)
		}
		return ph.p.failed(signaling.ActionDecline, "", in.Decline(ctx, 603))
	case signaling.ActionHangup:
		if call == nil {
			return noCall(req.Call)
		}
		if in != nil && call.State() == signaling.CallRinging {
			return ph.p.failed(signaling.ActionHangup, "", in.Decline(ctx, 603))
		}
		return ph.p.failed(signaling.ActionHangup, "", call.Hangup(ctx))
	case signaling.ActionPark:
		if call == nil {
			return noCall(req.Call)
		}
		if e := ph.p.orbitRefusal(req.Orbit); e != nil {
			return e
		}
		// The orbit reaches the tabs with the call's end (reason "parked").
		_, err := call.Park(ctx, req.Orbit)
		return ph.p.failed(signaling.ActionPark, req.Orbit, err)
	case signaling.ActionTransfer:
		if call == nil {
			return noCall(req.Call)
		}
		if req.Consult != "" {
			return ph.attended(ctx, e, req.Consult)
		}
		return ph.p.failed(signaling.ActionTransfer, req.Target, call.Transfer(ctx, req.Target))
	case signaling.ActionMute:
		if e == nil || req.Muted == nil {
			return noCall(req.Call)
		}
		return ph.mute(s, id, e, *req.Muted)
	case signaling.ActionMedia:
		if e == nil {
			return noCall(req.Call)
		}
		return ph.media(ctx, s, id, e, req.SDP)
	case signaling.ActionHold, signaling.ActionResume:
		if call == nil {
			return noCall(req.Call)
		}
		if req.Action == signaling.ActionHold {
			return ph.p.failed(signaling.ActionHold, "", call.Hold(ctx))
		}
		return ph.p.failed(signaling.ActionResume, "", call.Resume(ctx))
	}
	return &signaling.Error{Code: signaling.CodeUnavailable, Message: fmt.Sprintf("%s is allowed but not available yet", edge.ActionName(req.Action))}
}

// attended transfers e's far end to the far end of the user's call consult (RFC 5589
// §7): a REFER with Replaces on e. Both calls end here with reason "transferred".
func (ph *phone) attended(ctx context.Context, e *callEntry, consult string) *signaling.Error {
	ph.mu.Lock()
	c := ph.calls[consult]
	if c == nil || c.call == nil || c.state == signaling.CallNone || c.state == signaling.CallEnded {
		ph.mu.Unlock()
		return &signaling.Error{Code: signaling.CodeNoCall, Field: "consult", Message: fmt.Sprintf("there is no call %q", consult)}
	}
	if c.state != signaling.CallActive && c.state != signaling.CallHeld {
		ph.mu.Unlock()
		return &signaling.Error{Code: signaling.CodeRefused, Field: "consult", Message: "The consult call is not connected yet"}
	}
	e.xfer, c.xfer = true, true
	call, cc := e.call, c.call
	ph.mu.Unlock()
	if err := call.AttendedTransfer(ctx, cc); err != nil {
		ph.mu.Lock()
		e.xfer, c.xfer = false, false
		ph.mu.Unlock()
		return ph.p.failed(signaling.ActionTransfer, "", err)
	}
	return nil
}

// mute stops or restarts forwarding the tab's audio on e's leg and tells every tab.
// A call still ringing at the far end has its leg already; one being answered gets
// the flag with its leg (answer).
func (ph *phone) mute(s *edge.Session, id string, e *callEntry, muted bool) *signaling.Error {
	ph.mu.Lock()
	e.muted = muted
	if e.leg != nil {
		e.leg.Bridge().SetMuted(muted)
	}
	ph.mu.Unlock()
	ph.pushTo(e, s, id)
	return nil
}

func noCall(id string) *signaling.Error {
	return &signaling.Error{Code: signaling.CodeNoCall, Field: "call", Message: fmt.Sprintf("there is no call %q", id)}
}

// newLeg answers the browser's offer with a new leg. An offer without G.711 is refused
// before any PeerConnection exists: the bridge never transcodes.
//
// An offer with candidates is answered with all of ours (AcceptGathered), as a client
// that gathered before offering may not take trickled ones. An offer without any
// trickles (JSEP §4.1.8): the answer goes at once and the leg's candidates follow as
// ice messages to the tab (tr, started when the answer is queued), while the tab's
// reach the leg through the action's ref.
func (ph *phone) newLeg(ctx context.Context, s *edge.Session, id, offer string, law media.Codec) (*media.Leg, string, *outTrickle, *signaling.Error) {
	if se := checkOffer(offer); se != nil {
		return nil, "", nil, se
	}
	leg, err := ph.p.f.NewLeg(&media.BridgeConfig{LocalAddr: netip.AddrPortFrom(ph.p.addr, 0), Codec: law})
	if err != nil {
		return nil, "", nil, &signaling.Error{Code: signaling.CodeInternal, Message: "media: " + err.Error()}
	}
	desc := webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}
	var (
		answer webrtc.SessionDescription
		tr     *outTrickle
	)
	if hasCandidates(offer) {
		answer, err = leg.AcceptGathered(ctx, desc)
	} else {
		tr = newOutTrickle(s, id)
		// Before Accept: gathering starts with the local description.
		leg.PeerConnection().OnICECandidate(tr.candidate)
		answer, err = leg.Accept(desc)
	}
	if err != nil {
		_ = leg.Close()
		if errors.Is(err, media.ErrNoG711) {
			return nil, "", nil, &signaling.Error{Code: signaling.CodeNoG711, Field: "sdp", Message: "offer has no G.711 (PCMU or PCMA) audio"}
		}
		return nil, "", nil, &signaling.Error{Code: signaling.CodeBadField, Field: "sdp", Message: err.Error()}
	}
	// The remote description is set: the tab's candidates can reach the leg now.
	ph.attachRef(s, id, leg)
	return leg, answer.SDP, tr, nil
}

// checkOffer refuses a browser offer the bridge cannot use before any leg exists: none,
// or one without G.711 (the bridge never transcodes).
func checkOffer(offer string) *signaling.Error {
	if offer == "" {
		return &signaling.Error{Code: signaling.CodeBadField, Field: "sdp", Message: "is required: the browser's offer for the call's audio"}
	}
	if _, err := media.OfferCodecs(offer); err != nil {
		if errors.Is(err, media.ErrNoG711) {
			return &signaling.Error{Code: signaling.CodeNoG711, Field: "sdp", Message: "offer has no G.711 (PCMU or PCMA) audio; Parkway relays G.711 without transcoding"}
		}
		return &signaling.Error{Code: signaling.CodeBadField, Field: "sdp", Message: err.Error()}
	}
	return nil
}

// reserveCall counts a dial about to start against the user's calls: its entry, or a
// "too-many-calls" error when the user already has maxCalls going (issue 13: one
// session placed 150 calls, each a media leg's sockets and goroutines).
func (ph *phone) reserveCall() (*callEntry, *signaling.Error) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	if limit := ph.p.maxCalls; limit > 0 {
		if n := len(ph.liveLocked()) + len(ph.dialing); n >= limit {
			return nil, &signaling.Error{Code: signaling.CodeTooManyCalls, Message: fmt.Sprintf("you have %d calls going, the most the gateway allows; hang one up first", n)}
		}
	}
	e := &callEntry{}
	ph.dialing[e] = struct{}{}
	return e, nil
}

// releaseCall forgets a reserved dial once it returned: its call is live (and counted
// as such) or never happened.
func (ph *phone) releaseCall(e *callEntry) {
	ph.mu.Lock()
	delete(ph.dialing, e)
	ph.mu.Unlock()
}

// dial places a call with a new leg, for entry (reserveCall). The leg's answer goes to
// the tab in the call's first message (dialing), so the browser's media is up before
// the far end answers.
func (ph *phone) dial(ctx context.Context, s *edge.Session, id string, u *ua.User, target string, req *signaling.Request, entry *callEntry) *signaling.Error {
	leg, answer, tr, e := ph.newLeg(ctx, s, id, req.SDP, media.PCMU)
	if e != nil {
		return e
	}
	cm := ph.callMedia(leg, id)
	ph.mu.Lock()
	entry.leg, entry.origin, entry.ref, entry.answer, entry.trickle = leg, s, id, answer, tr
	entry.holder = s
	ph.mu.Unlock()
	ph.watchLeg(entry, leg)
	cm.entry = entry
	_, err := u.Dial(ctx, target, cm)
	if err == nil {
		return nil
	}
	_ = leg.Close() // the ended event may have closed it already; Close is idempotent
	if errors.Is(err, ua.ErrBusy) || errors.Is(err, ua.ErrDeclined) || (errors.Is(err, context.Canceled) && ctx.Err() == nil) {
		// The far end said no, or the user hung up while it rang: the call's ended
		// message says so, which is an outcome, not an error of the request.
		return nil
	}
	return ph.p.failed(req.Action, target, err)
}

// answer answers a ringing call with a new leg; the tab gets the SDP answer before the
// SIP side is answered, so its audio is ready when the caller's starts.
func (ph *phone) answer(ctx context.Context, s *edge.Session, id string, e *callEntry, in *ua.Incoming, req *signaling.Request) *signaling.Error {
	// The browser speaks the caller's first law, when the browser offered it, so the
	// SIP answer needs no transcoding (a SIP phone may offer PCMA only).
	law := media.PCMU
	if c := in.Codecs(); len(c) > 0 {
		law = media.Codec(c[0])
	}
	leg, answer, tr, se := ph.newLeg(ctx, s, id, req.SDP, law)
	if se != nil {
		return se
	}
	cm := ph.callMedia(leg, id)
	ph.mu.Lock()
	e.leg, e.origin, e.ref, e.answer, e.trickle = leg, s, id, answer, tr
	e.holder = s
	leg.Bridge().SetMuted(e.muted)
	cm.entry = e
	ph.mu.Unlock()
	ph.watchLeg(e, leg)
	ph.push(e)
	if _, err := in.Answer(ctx, cm); err != nil {
		ph.mu.Lock()
		if e.leg == leg {
			e.leg = nil
		}
		ph.finishLegLocked(leg)
		ph.mu.Unlock()
		_ = leg.Close()
		return ph.p.failed(signaling.ActionAnswer, "", err)
	}
	return nil
}

// close ends the pumps and the requests in flight and closes every leg. The user
// agents stay: whoever owns the Manager closes it.
func (p *phones) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.unwatch()
	p.cancel()
	p.mu.Lock()
	for _, ph := range p.users {
		ph.mu.Lock()
		for _, e := range ph.calls {
			ph.settleLocked(e) // the registrations close on their own
		}
		ph.mu.Unlock()
	}
	p.mu.Unlock()
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
