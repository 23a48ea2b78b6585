package pool

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Parallel forking (RFC 3261 §16.6–16.7). A user signed in on two gateways holds two
// bindings here, one per gateway Contact; an INVITE that starts a dialog with such a
// user goes to every live binding at once, one client transaction per branch:
//
//   - provisional answers of every branch go upstream (each carries its own To tag, an
//     early dialog of its own);
//   - the first 2xx goes upstream and every other branch is CANCELled, with a Reason
//     saying the call was completed elsewhere (RFC 3326); a later 2xx from a branch that
//     answered at the same instant is still relayed (§16.7 step 5: the caller ACKs and
//     BYEs it);
//   - a 6xx CANCELs the other branches and, unless one of them answers 2xx first, is the
//     answer (§16.7 steps 5–6);
//   - when every branch failed, the best final answer goes upstream: the lowest class
//     (3xx before 4xx before 5xx), and within it an answer a phone chose (486 Busy Here,
//     603…) before one that only says nobody answered (408, 480, 487) and before one the
//     pool made up for a branch that could not be reached;
//   - a CANCEL from the caller, and Timer C, cancel every branch still ringing.
//
// ACK for the 2xx, BYE and re-INVITEs go end to end to the Contact of the branch that
// answered: the pool does not Record-Route. Everything else — a user with one binding,
// requests inside a dialog, methods other than INVITE — takes the single-target path of
// proxy.go unchanged, so the common case costs nothing more than before.

// completedElsewhere is the Reason of a CANCEL sent to a branch that lost to a 2xx
// (RFC 3326 §2; the text phones show, e.g. "answered elsewhere").
func completedElsewhere() sip.Header {
	return sip.NewHeader("Reason", `SIP;cause=200;text="Call completed elsewhere"`)
}

// userTarget is where a request for a user goes through one of its bindings: the
// Contact's address, over the transport it asks for, retargeted to the Contact.
func userTarget(b Binding) target {
	c := b.Contact
	port := c.Port
	if port == 0 {
		port = 5060
	}
	return target{kind: targetUser, addr: net.JoinHostPort(c.Host, strconv.Itoa(port)), transport: uriTransport(c), uri: &c}
}

// forks reports whether req should be forked to t's bindings: an INVITE that starts a
// dialog with a user who has more than one.
func forks(req *sip.Request, t target) bool {
	return t.kind == targetUser && len(t.bindings) > 1 && req.IsInvite() && !inDialog(req)
}

// forkBranch is one branch of a forked INVITE.
type forkBranch struct {
	to           target
	fwd          *sip.Request
	ctr          sip.ClientTransaction // nil when the request could not be sent
	provisional  bool                  // a provisional answer came: CANCEL may be sent (§9.1)
	cancelWanted bool
	cancelSent   bool
	final        *sip.Response // its final answer, or the one standing for it (§16.7 step 9)
	local        bool          // final was made up here, not received
}

// branchEvent is what a branch's transaction reported: a response, or (res nil) that
// the transaction ended.
type branchEvent struct {
	i   int
	res *sip.Response
}

// fork forwards the INVITE req to every binding of its user in parallel and relays the
// answers (see the comment at the top of this file). sent is called once every branch
// was sent.
func (n *node) fork(req *sip.Request, tx sip.ServerTransaction, bindings []Binding, cancelled <-chan struct{}, sent func()) {
	defer sent()
	branches := make([]*forkBranch, len(bindings))
	for i, b := range bindings {
		br := &forkBranch{to: userTarget(b)}
		br.fwd = n.forwardCopy(req, br.to)
		if br.to.transport == "UDP" && len(br.fwd.String()) > maxUDPRequest {
			// As proxy does: too big for UDP with the path MTU unknown (§18.1.1).
			br.to.transport = "TCP"
			br.fwd = n.forwardCopy(req, br.to)
		}
		ctr, err := n.transactionRequest(n.ctx, br.fwd)
		n.logTraced(req, br.to, err)
		if err != nil {
			// §16.9: a branch that cannot be reached counts as a 503 from it.
			n.log.Debug("fork branch failed", "to", br.to.addr, "error", err)
			br.local = true
			br.final = newSIPError(503, "Next Hop Unreachable").response(req)
		} else {
			br.ctr = ctr
		}
		branches[i] = br
	}
	sent()
	n.log.Debug("forked", "user", req.Recipient.User, "branches", len(branches))

	events := make(chan branchEvent)
	quit := make(chan struct{})
	defer close(quit)
	for i, br := range branches {
		if br.ctr == nil {
			continue
		}
		defer br.ctr.Terminate()
		go pumpBranch(i, br.ctr, events, quit)
	}

	timer := time.NewTimer(n.pool.opt.InviteTimeout)
	defer timer.Stop()
	timerC := timer.C

	finalSent := false
	var cancelReason sip.Header // what the CANCELs say; nil but after a 2xx
	// sendCancel CANCELs br once it may be (§9.1: after a provisional answer), once.
	sendCancel := func(br *forkBranch) {
		if br.provisional && !br.cancelSent {
			br.cancelSent = true
			// Owned by the node's context, as relay's CANCEL is.
			go n.cancelDownstream(br.fwd, cancelReason)
		}
	}
	// cancel stops every branch still pending but skip: at once when it has answered
	// provisionally, else as soon as it does.
	cancel := func(skip int) {
		for i, br := range branches {
			if i != skip && br.final == nil {
				br.cancelWanted = true
				sendCancel(br)
			}
		}
	}
	for {
		if allFinal(branches) {
			// Every branch answered: what is left of their transactions (retransmitted
			// answers, a 2xx's) ends with them at return, as relay's does.
			if !finalSent {
				best := bestFinal(branches)
				if err := tx.Respond(upstreamCopy(best, req.Transport())); err != nil {
					n.log.Debug("relay best final failed", "code", best.StatusCode, "error", err)
				}
			}
			return
		}
		select {
		case ev := <-events:
			br := branches[ev.i]
			res := ev.res
			if res == nil {
				if br.final == nil {
					// §16.7 step 9: no final answer came — Timer B fired (408) or the
					// transport failed (§16.9, 503).
					br.final, br.local = clientTxEnded(br.ctr).response(req), true
				}
				continue
			}
			if res.StatusCode == 100 {
				br.provisional = true // §16.7 step 3: hop by hop, not relayed
				if br.cancelWanted {
					sendCancel(br)
				}
				continue
			}
			if hook := n.pool.opt.testBeforeRelay; hook != nil {
				hook(res)
			}
			out := upstreamCopy(res, req.Transport())
			switch {
			case res.IsProvisional():
				br.provisional = true
				if br.cancelWanted {
					sendCancel(br)
				} else if !finalSent {
					if err := tx.Respond(out); err != nil {
						n.log.Debug("relay provisional failed", "error", err)
					}
				}
			case res.IsSuccess():
				br.final = res
				if finalSent {
					// §16.7 step 5: every 2xx goes upstream, statelessly once the server
					// transaction has its final answer; the caller ACKs and BYEs it.
					n.writeStateless(out)
				} else {
					finalSent = true
					if err := tx.Respond(out); err != nil {
						n.log.Debug("relay final failed", "code", res.StatusCode, "error", err)
						n.writeStateless(out) // cancelled meanwhile: the caller must still see it (§16.10)
					}
				}
				if cancelReason == nil {
					cancelReason = completedElsewhere()
				}
				cancel(ev.i)
			default:
				br.final = res
				if res.StatusCode >= 600 {
					// §16.7 step 5: a 6xx is not forwarded at once; the others are
					// cancelled, and it wins unless one of them answers 2xx meanwhile.
					cancel(ev.i)
				}
			}
			n.order.Relayed(res)
		case <-cancelled:
			cancelled = nil
			cancel(-1) // §16.10: the caller's CANCEL goes to every pending branch
		case <-timerC:
			timerC = nil
			// Timer C (§16.6 step 11) gives up on branches that never answer.
			cancel(-1)
			if !finalSent {
				finalSent = true
				n.respond(req, tx, newSIPError(408, "Request Timeout"))
			}
		case <-n.ctx.Done():
			n.log.Debug("fork stopped with node")
			return
		}
	}
}

// upstreamCancel returns a channel closed when the caller CANCELs tx's INVITE (§16.10),
// or at once when that happened already (or the transaction is over): sipgo answers the
// CANCEL, and the INVITE 487, before the handler may have asked.
func upstreamCancel(tx sip.ServerTransaction) <-chan struct{} {
	cancelled := make(chan struct{})
	var once sync.Once
	closeOnce := func() { once.Do(func() { close(cancelled) }) }
	if !tx.OnCancel(func(*sip.Request) { closeOnce() }) {
		closeOnce()
	}
	return cancelled
}

// pumpBranch passes one branch's responses, then the end of its transaction, to the
// fork's loop, until quit.
func pumpBranch(i int, ctr sip.ClientTransaction, events chan<- branchEvent, quit <-chan struct{}) {
	for {
		var ev branchEvent
		select {
		case res := <-ctr.Responses():
			ev = branchEvent{i: i, res: res}
		case <-ctr.Done():
			ev = branchEvent{i: i}
		case <-quit:
			return
		}
		select {
		case events <- ev:
		case <-quit:
			return
		}
		if ev.res == nil {
			return
		}
	}
}

// clientTxEnded is the answer standing for a client transaction that ended without a
// final response, as relay gives it for a single target.
func clientTxEnded(ctr sip.ClientTransaction) *sipError {
	if err := ctr.Err(); err != nil && !timedOut(err) {
		return newSIPError(503, "Next Hop Unreachable")
	}
	return newSIPError(408, "Request Timeout")
}

// timedOut reports whether a client transaction's error is its timer firing rather
// than a transport failure.
func timedOut(err error) bool {
	return strings.Contains(err.Error(), "timeout") || strings.Contains(err.Error(), "Timer")
}

func allFinal(branches []*forkBranch) bool {
	for _, br := range branches {
		if br.final == nil {
			return false
		}
	}
	return true
}

// bestFinal chooses the answer to send upstream once every branch has a final one
// (§16.7 step 6): a 2xx if any (already sent), else a 6xx, else the lowest class; within
// a class a phone's decision before "nobody answered", and a received answer before one
// made up here. Ties go to the branch that answered first in the binding order (newest
// binding first).
func bestFinal(branches []*forkBranch) *sip.Response {
	var best *forkBranch
	for _, br := range branches {
		if best == nil || finalRank(br) < finalRank(best) {
			best = br
		}
	}
	return best.final
}

func finalRank(br *forkBranch) int {
	code := br.final.StatusCode
	class := code / 100
	switch {
	case class == 2:
		class = 0
	case class == 6:
		class = 1
	}
	rank := class * 10
	switch {
	case br.local:
		rank += 3
	case code == 408 || code == 480 || code == 487:
		rank += 1
	}
	return rank
}
