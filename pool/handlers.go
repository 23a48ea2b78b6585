package pool

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
)

// register installs the request handlers. Every request passes the same checks first
// (overload, RFC 3261 §16.3 validation); REGISTER and OPTIONS for the pool itself are
// answered here, everything else is proxied.
func (n *node) register() {
	for _, m := range []sip.RequestMethod{
		sip.INVITE, sip.ACK, sip.CANCEL, sip.BYE, sip.REGISTER, sip.OPTIONS, sip.SUBSCRIBE,
		sip.NOTIFY, sip.REFER, sip.INFO, sip.MESSAGE, sip.PRACK, sip.UPDATE, sip.PUBLISH,
	} {
		n.srv.OnRequest(m, n.serve)
	}
	n.srv.OnNoRoute(n.serve)
}

// allowed is the Allow header value: every method the proxy relays.
const allowed = "INVITE, ACK, CANCEL, BYE, REGISTER, OPTIONS, SUBSCRIBE, NOTIFY, REFER, INFO, MESSAGE, PRACK, UPDATE, PUBLISH"

func (n *node) respond(req *sip.Request, tx sip.ServerTransaction, e *sipError) {
	if tx == nil || req.IsAck() {
		return // RFC 3261 §17: ACK is never answered
	}
	if err := tx.Respond(e.response(req)); err != nil {
		n.log.Debug("respond failed", "code", e.Code, "error", err)
	}
}

func (n *node) handle(req *sip.Request, tx sip.ServerTransaction) {
	p := n.pool
	if req.Method != sip.OPTIONS {
		p.overload.saw() // over TCP and TLS this is the first the gate hears of it
	}
	answerToSource(req)
	if hook := p.opt.testBeforeTurn; hook != nil {
		hook(req)
	}
	// sipgo runs each message on a goroutine of its own; requests of one dialog wait
	// here for those read before them (package inorder), so an ACK and the REFER sent
	// right after it leave in that order too. The turn ends once the request is sent
	// on (or answered), not when its transaction ends.
	turn := n.order.Turn(req)
	defer turn()
	if req.Transport() != "UDP" {
		// Over UDP the flood gate already ran in readFilter, statelessly.
		if e := n.admit(req); e != nil {
			n.respond(req, tx, e)
			return
		}
	}
	if p.inflight.Add(1) > int64(p.opt.MaxInFlight) && !finishesAdmitted(req) {
		p.inflight.Add(-1)
		// Overload: RFC 3261 §21.5.4, with Retry-After so clients back off.
		n.respond(req, tx, &sipError{Code: 503, Reason: "Overloaded", RetryAfter: p.opt.RetryAfter})
		return
	}
	defer p.inflight.Add(-1)

	if e := validate(req); e != nil {
		n.respond(req, tx, e)
		return
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 && !n.forPool(req) {
		// §16.3 step 3 before any routing: nothing with no hops left goes on, and an
		// OPTIONS or REGISTER with none is answered only when it is for the pool itself.
		n.respond(req, tx, newSIPError(483, "Too Many Hops"))
		return
	}
	// RFC 3261 §16.4: a Route naming us was put there by a UA with us as outbound proxy.
	// The transaction's own request is never changed: sipgo's 100 Trying timer copies
	// its headers on another goroutine (a data race the race detector caught under
	// load), so headers come off a copy that everything from there on uses.
	copied := false
	if r := req.Route(); r != nil && n.isSelf(r.Address) {
		req, copied = req.Clone(), true
		req.RemoveHeader("Route")
	}
	t, e := n.route(req)
	if e != nil {
		n.respond(req, tx, e)
		return
	}
	if t.kind == targetLocal {
		switch req.Method {
		case sip.REGISTER:
			n.onRegister(req, tx)
		case sip.OPTIONS:
			n.onOptions(req, tx)
		case sip.ACK:
		default:
			n.respond(req, tx, &sipError{Code: 404, Reason: "Not Found"})
		}
		return
	}
	if req.Method == sip.REGISTER {
		// The registrar serves this pool's domain only; a REGISTER for a user part is
		// not ours to relay (RFC 3261 §10.2: the Request-URI has no user part).
		n.respond(req, tx, newSIPError(400, "REGISTER Request-URI Must Not Have A User"))
		return
	}
	if !copied && (req.GetHeader("Proxy-Authorization") != nil || req.GetHeader(parkwire.ParkedSinceHeader) != nil) {
		// authenticateCaller strips credentials and an unvouched park time; nothing else
		// changes req, so a request with neither is not copied (forwardCopy copies it
		// anyway: one copy a request instead of two, issue #12's profile).
		req = req.Clone()
	}
	if !n.authenticateCaller(req, tx) {
		return
	}
	n.proxy(req, tx, t, turn)
}

// finishesAdmitted reports whether req belongs to work the pool already took — a
// request inside a dialog, an ACK or a CANCEL — which the in-flight bound never refuses:
// a BYE answered 503 would leave a call half ended (issue #12), and these are bounded
// by the calls admitted, not by what the network sends.
func finishesAdmitted(req *sip.Request) bool {
	return req.IsAck() || req.IsCancel() || req.To() != nil && inDialog(req)
}

// validate applies RFC 3261 §16.3 request validation (and §8.2.2 for the pool as UAS).
func validate(req *sip.Request) *sipError {
	if s := strings.ToLower(req.Recipient.Scheme); s != "sip" && s != "sips" {
		return newSIPError(416, "Unsupported URI Scheme")
	}
	if req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil {
		return newSIPError(400, "Missing Mandatory Header")
	}
	if cs := req.CSeq(); !strings.EqualFold(string(cs.MethodName), string(req.Method)) {
		// sipgo upper-cases the request's method; vetMessage compared the exact bytes.
		return newSIPError(400, "CSeq Method Does Not Match")
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 && req.Method != sip.OPTIONS && req.Method != sip.REGISTER {
		// §16.3 step 3. OPTIONS and REGISTER may still be for the pool itself; the proxy
		// checks again before forwarding.
		return newSIPError(483, "Too Many Hops")
	}
	if h := req.GetHeader("Proxy-Require"); h != nil {
		// §16.3 step 5: we support no extensions that need a proxy's help.
		e := newSIPError(420, "Bad Extension")
		e.Headers = []sip.Header{sip.NewHeader("Unsupported", h.Value())}
		return e
	}
	return nil
}

// forPool reports whether req is for the pool itself rather than for a user.
func (n *node) forPool(req *sip.Request) bool {
	u := req.Recipient.User
	return req.Route() == nil && (u == "" || u == n.pool.cfg.Name)
}

// isSelf reports whether u addresses this node.
func (n *node) isSelf(u sip.Uri) bool {
	port := u.Port
	if port == 0 {
		port = 5060
	}
	if port != n.port && (n.tlsL == nil || port != n.tlsPort()) {
		return false
	}
	return u.Host == n.host || u.Host == n.pool.cfg.Domain || u.Host == n.pool.cfg.Name
}
