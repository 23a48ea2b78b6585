package park

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/sip/audiosdp"
	"github.com/parkway/parkway/sip/calltrace"
	"github.com/parkway/parkway/sip/inorder"
	"github.com/parkway/parkway/sip/transfer"
)

func (r *run) routes() {
	r.srv.OnInvite(r.inOrder(r.onInvite))
	r.srv.OnAck(r.inOrder(r.onAck))
	r.srv.OnBye(r.inOrder(r.onBye))
	r.srv.OnNotify(r.inOrder(r.onNotify))
	r.srv.OnSubscribe(r.inOrder(r.onSubscribe))
	r.srv.OnRefer(r.inOrder(r.onRefer))
	r.srv.OnCancel(r.inOrder(func(req *sip.Request, tx sip.ServerTransaction) {
		// A CANCEL matching an INVITE is consumed by the transaction layer;
		// one that gets here matched nothing (RFC 3261 §9.2).
		respond(req, tx, 481, "Call/Transaction Does Not Exist")
	}))
	r.srv.OnOptions(r.inOrder(func(req *sip.Request, tx sip.ServerTransaction) {
		respond(req, tx, 200, "OK", sip.NewHeader("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, SUBSCRIBE, NOTIFY, REFER"))
	}))
	r.srv.OnNoRoute(r.inOrder(func(req *sip.Request, tx sip.ServerTransaction) {
		respond(req, tx, 405, "Method Not Allowed", sip.NewHeader("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, SUBSCRIBE, NOTIFY, REFER"))
	}))
}

// inOrder has h take the requests of one dialog in the order they were read (package
// inorder): sipgo runs every message on a goroutine of its own, and an ACK overtaken by
// the BYE or REFER sent after it would leave a call half set up. Requests that start a
// dialog are not held. Handlers of in-dialog requests answer without waiting on the
// network, so a dialog's queue moves at the speed of its handlers.
func (r *run) inOrder(h func(*sip.Request, sip.ServerTransaction)) func(*sip.Request, sip.ServerTransaction) {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if hook := r.s.testBeforeTurn; hook != nil {
			hook(req)
		}
		done := r.order.Turn(req)
		defer done()
		h(req, tx)
	}
}

// arrivalParser reads datagrams for the arrival order only; sip.Parser keeps no state
// per message, so one serves every service.
var arrivalParser = sip.NewParser()

// arrivalFilter is the transport's read filter: it runs on the goroutine that reads the
// UDP socket, in the order datagrams arrive, and tells order about each request before
// sipgo hands it to a goroutine. TCP reads are stream chunks, not messages, and are
// left unordered; the pool reaches the service over UDP. probe (Options.ReadProbe) may
// claim a datagram first.
func arrivalFilter(order *inorder.Queue, probe func(net.Addr) bool) sip.TransportReadFilter {
	return func(props sip.TransportReadProps, data []byte) ([]byte, error) {
		if props.Transport == "UDP" && probe != nil && probe(props.RemoteAddr) {
			return nil, nil
		}
		if props.Transport != "UDP" || len(data) < 8 || string(data[:8]) == "SIP/2.0 " {
			return data, nil
		}
		if s, ok := inorder.Scan(data); ok {
			// Read without parsing it (sipgo parses it next): a request outside a
			// dialog has no place in an order, one inside takes its place.
			order.ArrivedScanned(s)
			return data, nil
		}
		if m, err := arrivalParser.ParseSIP(data); err == nil {
			if req, ok := m.(*sip.Request); ok {
				order.Arrived(req)
			}
		}
		return data, nil
	}
}

// intent is what an INVITE to the park service asks for.
type intent int

const (
	intentPark     intent = iota // to sip:park@ or a free orbit via a transfer
	intentRetrieve               // to an orbit, not via a transfer
)

// classify decides between park and retrieve. An INVITE that arrives
// because of a transfer carries Referred-By (RFC 3892): that is a park
// (directed when it names an orbit). Anything else dialling an orbit is
// someone picking the call up — the way any phone retrieves, by dialling.
func (r *run) classify(req *sip.Request) (intent, string, *Error) {
	user := req.Recipient.User
	switch {
	case strings.EqualFold(user, parkwire.ParkUser):
		return intentPark, "", nil
	case !r.s.Owns(user):
		return 0, "", ErrOrbitNotFound.withOrbit(user)
	case req.GetHeader("Referred-By") != nil || req.GetHeader("b") != nil: // "b": compact form
		return intentPark, user, nil
	default:
		return intentRetrieve, user, nil
	}
}

func (r *run) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		r.onReinvite(req, tx)
		return
	}
	if req.Contact() == nil || req.From() == nil || req.CallID() == nil {
		respond(req, tx, 400, "Missing Contact, From or Call-ID")
		return
	}
	what, orbit, perr := r.classify(req)
	if perr != nil {
		r.respondErr(req, tx, perr)
		return
	}
	if what == intentPark && r.s.draining.Load() {
		r.respondErr(req, tx, ErrDraining)
		return
	}
	offer, err := sdpRules.Parse(req.Body())
	if err != nil {
		r.respondErr(req, tx, ErrNotParkable)
		return
	}
	if what == intentPark {
		r.park(req, tx, orbit, offer)
		return
	}
	r.retrieve(req, tx, orbit, offer)
}

// accept creates the UAS leg for an INVITE we are about to answer.
func (r *run) accept(req *sip.Request, tx sip.ServerTransaction) (*leg, *Error) {
	media, err := newStream(net.ParseIP(r.s.opt.MediaIP), &r.s.openStreams)
	if err != nil {
		return nil, &Error{Status: 500, Diagnostic: 13000, Text: "No media port"}
	}
	ss, err := r.dua.ReadInvite(req, tx)
	if err != nil {
		media.close()
		return nil, &Error{Status: 400, Diagnostic: 13000, Text: "Bad INVITE"}
	}
	l := r.newLeg(req.CallID().Value(), media)
	// Under the lock legByID takes: the leg is already findable, and an ACK's handler
	// (onAck) reads ss; only the network orders it after this write, which the race
	// detector cannot see.
	r.s.mu.Lock()
	l.ss, l.invite = ss, ss.InviteRequest
	r.s.mu.Unlock()
	return l, nil
}

// park answers the parked party's INVITE (RFC 3515 blind transfer target):
// allocate the orbit, answer with our SDP and the orbit header, then play
// music and start the call's pickup timer.
func (r *run) park(req *sip.Request, tx sip.ServerTransaction, orbit string, offer audiosdp.Description) {
	since, perr := r.reparkSince(req)
	if perr != nil {
		r.respondErr(req, tx, perr)
		return
	}
	pc, perr := r.reserve(orbit)
	if perr != nil {
		r.respondErr(req, tx, perr)
		return
	}
	l, perr := r.accept(req, tx)
	if perr != nil {
		r.release(pc)
		r.respondErr(req, tx, perr)
		return
	}
	r.s.mu.Lock()
	pc.leg = l
	pc.trace = calltrace.From(req)
	if pc.trace == "" {
		pc.trace = calltrace.New() // a phone's call: traced from here on
	}
	l.trace = pc.trace
	pc.info.ParkedParty = req.From().Address.String()
	pc.info.ParkedBy = referredBy(req)
	pc.reparked = !since.IsZero()
	if !pc.reparked {
		since = time.Now()
	}
	pc.info.Since = since // the time the 200 names; startParked keeps it
	r.s.mu.Unlock()
	if err := l.answer(offer, sip.NewHeader(parkwire.OrbitHeader, pc.info.Orbit),
		sip.NewHeader(parkwire.ParkedSinceHeader, since.UTC().Format(time.RFC3339Nano))); err != nil {
		// No ACK, or CANCEL raced the answer: the call never got parked.
		l.end()
		r.release(pc)
		return
	}
	var music []byte
	if !r.s.cfg.DisableMusicOnHold {
		music = r.s.music
	}
	l.media.play(offer.UDPAddr(), l.pt, music)
	r.startParked(pc)
}

// referredBy extracts the URI of a Referred-By header (RFC 3892 §3). Its
// grammar is Refer-To's (a name-addr), so the same strict parser reads it;
// anything unparseable counts as absent.
func referredBy(req *sip.Request) string {
	v := headerValue(req, "Referred-By")
	if v == "" {
		v = headerValue(req, "b") // compact form (RFC 3892 §3)
	}
	if v == "" {
		return ""
	}
	rt, err := transfer.ParseReferTo(v)
	if err != nil {
		return ""
	}
	return rt.Target.String()
}

// retrieve answers the retriever's INVITE and hands the new leg to the
// parked call, whose loop connects the two (parked.go).
func (r *run) retrieve(req *sip.Request, tx sip.ServerTransaction, orbit string, offer audiosdp.Description) {
	r.s.mu.Lock()
	pc := r.calls[orbit]
	r.s.mu.Unlock()
	if pc == nil {
		r.respondErr(req, tx, ErrOrbitNotFound.withOrbit(orbit))
		return
	}
	// A call still being answered at this orbit is as good as parked: wait
	// for its ACK rather than tell the retriever there is nothing here.
	select {
	case <-pc.ready:
	case <-pc.done:
		r.respondErr(req, tx, ErrOrbitNotFound.withOrbit(orbit))
		return
	case <-r.ctx.Done():
		return
	}
	r.s.mu.Lock()
	busy := pc.retrieving || pc.info.State.Final()
	if !busy {
		pc.retrieving = true
	}
	r.s.mu.Unlock()
	if busy {
		r.respondErr(req, tx, ErrRetrieveBusy.withOrbit(orbit))
		return
	}
	unmark := func() {
		r.s.mu.Lock()
		pc.retrieving = false
		r.s.mu.Unlock()
	}
	l, perr := r.accept(req, tx)
	if perr != nil {
		unmark()
		r.respondErr(req, tx, perr)
		return
	}
	rt := &retriever{leg: l, direct: !supportsReplaces(req), offer: req.Body()}
	if rt.direct {
		// Third-party call control: the answer waits for the parked
		// party's SDP (bridge.go). Our own RTP socket is not needed.
		l.media.close()
		rt.answerSDP = make(chan []byte, 1)
		rt.answered = make(chan error, 1)
		_ = l.ss.Respond(180, "Ringing", nil)
	} else if err := l.answer(offer, sip.NewHeader(parkwire.OrbitHeader, orbit)); err != nil {
		l.end()
		unmark()
		return
	}
	select {
	case pc.retrievers <- rt:
	case <-pc.done:
		// The parked call left while we answered (hung up, timed out).
		unmark()
		if rt.direct {
			r.respondErr(req, tx, ErrOrbitNotFound.withOrbit(orbit))
			l.end()
			return
		}
		ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		defer cancel()
		l.hangup(ctx, ErrOrbitNotFound.withOrbit(orbit))
		return
	case <-r.ctx.Done():
		return
	}
	if rt.direct {
		r.answerDirect(rt, orbit)
	}
}

// answerDirect completes a bridged retrieve: answer the retriever with the
// parked party's SDP once the loop has it.
func (r *run) answerDirect(rt *retriever, orbit string) {
	l := rt.leg
	var sdp []byte
	select {
	case sdp = <-rt.answerSDP:
	case <-l.ss.Context().Done(): // CANCEL: the bridge will fail its answer
		sdp = <-rt.answerSDP
		rt.answered <- context.Canceled
		l.end()
		return
	case <-r.ctx.Done():
		return
	}
	if sdp == nil {
		e := ErrRetrieveFailed.withOrbit(orbit)
		_ = l.ss.Respond(e.Status, e.Text, nil, e.headers(r.s.opt.Name)...)
		l.end()
		return
	}
	res := sip.NewSDPResponseFromRequest(l.ss.InviteRequest, sdp)
	res.AppendHeader(sip.NewHeader(parkwire.OrbitHeader, orbit))
	l.res = res
	err := l.ss.WriteResponse(res)
	if err != nil {
		l.end()
	}
	rt.answered <- err
}

// onReinvite answers a session refresh in one of our dialogs with the same
// media; anything else in-dialog that we do not know is 481.
func (r *run) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	l := r.legByID(req.CallID().Value())
	if l == nil || l.ended() {
		respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	r.s.mu.Lock()
	body := l.peerSDP
	r.s.mu.Unlock()
	if body == nil {
		body = audiosdp.Build(l.media.localAddr(), 1, l.pt)
	}
	// A bridged leg keeps pointing at the other party: a session refresh
	// must not pull media back to the park service's closed socket.
	res := sip.NewSDPResponseFromRequest(req, body)
	ct := r.contact()
	res.AppendHeader(&ct)
	_ = tx.Respond(res)
}

func (r *run) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if l := r.legByID(req.CallID().Value()); l != nil && l.ss != nil {
		_ = l.ss.ReadAck(req, tx)
	}
}

func (r *run) onBye(req *sip.Request, tx sip.ServerTransaction) {
	l := r.legByID(req.CallID().Value())
	if l == nil {
		respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	if l.cs != nil {
		_ = l.cs.ReadBye(req, tx)
	} else {
		_ = l.ss.ReadBye(req, tx)
	}
	l.end()
}
