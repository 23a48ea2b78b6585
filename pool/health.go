package pool

import (
	"github.com/emiago/sipgo/sip"
)

// onOptions is the health probe (RFC 3261 §11): 200 with our capabilities while serving,
// 503 with Retry-After while draining so the gateway's DR controller moves users away
// before the process exits.
func (n *node) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if n.pool.draining.Load() {
		n.respond(req, tx, &sipError{Code: 503, Reason: "Draining", RetryAfter: n.pool.opt.RetryAfter})
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", allowed))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	if err := tx.Respond(res); err != nil {
		n.log.Debug("options respond failed", "error", err)
	}
}
