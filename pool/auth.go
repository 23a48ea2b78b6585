package pool

import (
	"errors"

	"github.com/emiago/sipgo/sip"
)

// authenticate checks the digest credentials of req (RFC 3261 §22.4) and returns the
// authenticated user. On failure it has already answered: 401 with fresh challenges when
// there are no usable credentials or the nonce is unknown, 401 with stale=true when a
// correct answer used an expired nonce, 403 when the answer is wrong, 400 when the
// Authorization header cannot be parsed.
func (n *node) authenticate(req *sip.Request, tx sip.ServerTransaction) (string, bool) {
	p := n.pool
	realm := p.cfg.Domain
	for _, h := range req.GetHeaders("Authorization") {
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
		if _, ok := digestHash(c.Algorithm); !ok {
			n.challenge(req, tx, false)
			return "", false
		}
		password, known := p.users[c.Username]
		nonceErr := p.nonces.check(c.Nonce)
		if errors.Is(nonceErr, errNonceInvalid) {
			n.challenge(req, tx, false)
			return "", false
		}
		if !known || !digestMatches(c, string(req.Method), password) {
			n.respond(req, tx, newSIPError(403, "Forbidden: Bad Credentials"))
			return "", false
		}
		if nonceErr != nil {
			n.challenge(req, tx, true)
			return "", false
		}
		return c.Username, true
	}
	n.challenge(req, tx, false)
	return "", false
}

// challenge answers 401 with one WWW-Authenticate per supported algorithm, most
// preferred first (RFC 8760 §2.4).
func (n *node) challenge(req *sip.Request, tx sip.ServerTransaction, stale bool) {
	res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
	nonce := n.pool.nonces.issue()
	for _, alg := range n.pool.cfg.DigestAlgorithms {
		res.AppendHeader(sip.NewHeader("WWW-Authenticate", digestChallenge(n.pool.cfg.Domain, nonce, alg, stale)))
	}
	if err := tx.Respond(res); err != nil {
		n.log.Debug("challenge respond failed", "error", err)
	}
}
