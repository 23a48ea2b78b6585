package pool

import (
	"errors"
	"fmt"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
)

// authenticate checks the digest credentials of req (RFC 3261 §22.4) and returns the
// authenticated user. On failure it has already answered: 401 with fresh challenges when
// there are no usable credentials or the nonce is unknown, 401 with stale=true when a
// correct answer used an expired nonce or replayed a nonce-count, 403 when the answer is
// wrong, 400 when the Authorization header cannot be parsed or its uri is not the
// Request-URI.
func (n *node) authenticate(req *sip.Request, tx sip.ServerTransaction) (string, bool) {
	return n.authenticateAs(req, tx, false)
}

// authenticateAs is authenticate for a registrar (401, Authorization) or, with proxy set,
// for the proxy (407, Proxy-Authorization; RFC 3261 §22.3).
func (n *node) authenticateAs(req *sip.Request, tx sip.ServerTransaction, proxy bool) (string, bool) {
	p := n.pool
	realm := p.cfg.Realm
	credHeader := "Authorization"
	if proxy {
		credHeader = "Proxy-Authorization"
	}
	challenge := func(stale bool) { n.challengeAs(req, tx, stale, proxy) }
	for _, h := range req.GetHeaders(credHeader) {
		c, err := parseDigestCredentials(h.Value())
		if errors.Is(err, errNotDigest) {
			continue
		}
		if err != nil {
			n.respond(req, tx, newSIPError(400, "Bad Authorization Header"))
			return "", false
		}
		if c.Realm != realm {
			continue // credentials for some other realm on the path
		}
		ip := sourceIP(req.Source())
		if left, locked := p.throttle.locked(ip, c.Username, p.opt.Now()); locked {
			// Locked out: not even the right password gets in until the time is up.
			n.respondAfter(req, tx, n.lockedOut(c.Username, ip, left), p.throttle.maxDelay())
			return "", false
		}
		if _, ok := digestHash(c.Algorithm); !ok {
			challenge(false)
			return "", false
		}
		user, known := p.users[c.Username]
		nonceErr := p.nonces.check(c.Nonce)
		if errors.Is(nonceErr, errNonceInvalid) {
			challenge(false)
			return "", false
		}
		if !digestURIMatches(c.URI, req.Recipient) {
			// RFC 2617 §3.2.2.5, RFC 7616 §3.4.6: credentials computed for another
			// URI would let an answer captured for one request authorise another.
			n.respond(req, tx, newSIPError(400, "Authorization URI Does Not Match Request-URI"))
			return "", false
		}
		nc, ncOK := parseNonceCount(c.NC)
		if c.QOP != "" && !ncOK {
			n.respond(req, tx, newSIPError(400, "Bad Nonce-Count"))
			return "", false
		}
		if !known || !digestMatches(c, string(req.Method), user) {
			// Each failure is answered later than the one before; the last allowed one
			// locks the user out from this source (limits.go).
			now := p.opt.Now()
			delay, lockedNow := p.throttle.fail(ip, c.Username, now)
			e := newSIPError(403, "Forbidden: Bad Credentials")
			if left, locked := p.throttle.locked(ip, c.Username, now); locked && !lockedNow {
				// Another failure locked the pair out while this one was checked: it is
				// answered as the lock-out is (fail did not count it).
				e = n.lockedOut(c.Username, ip, left)
			} else if lockedNow {
				n.log.Warn("digest failures: user locked out from source", "user", c.Username, "from", ip, "for", p.opt.AuthLockout)
				e.Headers = []sip.Header{n.warning(fmt.Sprintf("user %s is now locked out from %s for %ds after %d failed digest answers",
					c.Username, ip, int(p.opt.AuthLockout/time.Second), p.opt.AuthFailureLimit))}
			}
			n.respondAfter(req, tx, e, delay)
			return "", false
		}
		if nonceErr != nil || !p.nonces.use(c.Nonce, nc, c.QOP != "") {
			// Expired, or a nonce-count already used with this nonce: a replay, or a
			// phone reusing a nonce it may not; either way a fresh nonce settles it.
			challenge(true)
			return "", false
		}
		p.throttle.succeed(ip, c.Username)
		return c.Username, true
	}
	challenge(false)
	return "", false
}

// challenge answers 401 with one WWW-Authenticate per supported algorithm, most
// preferred first (RFC 8760 §2.4).
func (n *node) challengeAs(req *sip.Request, tx sip.ServerTransaction, stale, proxy bool) {
	code, reason, header := 401, "Unauthorized", "WWW-Authenticate"
	if proxy {
		code, reason, header = 407, "Proxy Authentication Required", "Proxy-Authenticate"
	}
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	nonce := n.pool.nonces.issue()
	for _, alg := range n.pool.cfg.DigestAlgorithms {
		res.AppendHeader(sip.NewHeader(header, digestChallenge(n.pool.cfg.Realm, nonce, alg, stale)))
	}
	if err := tx.Respond(res); err != nil {
		n.log.Debug("challenge respond failed", "error", err)
	}
}

// respondAfter answers req with e after delay, or not at all if the node stops first.
// sipgo ends the transaction when the handler returns, so the handler waits; it gives
// its in-flight slot back meanwhile, because waiting is the pool's choice, not work
// (the flood gate bounds how many such waits one source can start).
func (n *node) respondAfter(req *sip.Request, tx sip.ServerTransaction, e *sipError, delay time.Duration) {
	n.pool.inflight.Add(-1)
	defer n.pool.inflight.Add(1)
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		n.respond(req, tx, e)
	case <-n.ctx.Done():
	}
}

// authenticateCaller challenges calls unless Config.UnauthenticatedCalls: a new dialog
// or out-of-dialog request that claims (in From) to be one of this pool's users must
// prove it with Proxy-Authorization, so nobody on the network can call as alice.
// Requests from the peer pool or our park service (node.trusted: by the address they
// came from, never by a header the sender writes) were authenticated where they entered
// (or are the service's own), and users of other domains cannot be checked here at all.
// Our credentials are removed before forwarding (RFC 3261 §22.3).
//
// The pool vouches for a re-park's original park time (parkwire.ParkedSinceHeader,
// park/survivable.go) only on a request it authenticated or that came from the peer
// pool: everyone else's copy of the header is removed here.
func (n *node) authenticateCaller(req *sip.Request, tx sip.ServerTransaction) bool {
	if n.pool.cfg.UnauthenticatedCalls || inDialog(req) || req.IsAck() || req.IsCancel() {
		stripParkTime(req)
		return true
	}
	from := req.From().Address.User
	if _, ours := n.pool.users[from]; !ours {
		stripParkTime(req)
		return true
	}
	if n.trusted(req) {
		return true
	}
	user, ok := n.authenticateAs(req, tx, true)
	if !ok {
		return false
	}
	if user != from {
		n.respond(req, tx, newSIPError(403, "Forbidden: From Does Not Match Credentials"))
		return false
	}
	for req.RemoveHeader("Proxy-Authorization") {
	}
	return true
}

// stripParkTime removes a park time the pool cannot vouch for (authenticateCaller).
func stripParkTime(req *sip.Request) {
	for req.RemoveHeader(parkwire.ParkedSinceHeader) {
	}
}

// lockedOut is the answer to user from ip while the pair is locked out, left to go.
func (n *node) lockedOut(user, ip string, left time.Duration) *sipError {
	e := newSIPError(403, "Forbidden: Too Many Failed Attempts")
	e.Headers = []sip.Header{n.warning(fmt.Sprintf("user %s is locked out from %s for %ds after %d failed digest answers",
		user, ip, int(left.Round(time.Second)/time.Second), n.pool.opt.AuthFailureLimit))}
	return e
}
