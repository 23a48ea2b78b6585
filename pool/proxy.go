package pool

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
)

// The proxy is transaction-stateful (RFC 3261 §16): one server transaction upstream, one
// client transaction downstream, responses relayed as they come. It never adds
// Record-Route, so ACK for 2xx, BYE and re-INVITEs go end to end and an established call
// survives the pool (ARCHITECTURE.md §2).

// branchPrefix marks branches this pool generated. After the RFC 3261 magic cookie comes
// a hash of the request fields that identify it before retargeting (§16.6 step 8), which
// is what loop detection compares (§16.3 step 4).
const branchPrefix = sip.RFC3261BranchMagicCookie + ".pw"

func loopHash(req *sip.Request) string {
	h := sha256.New()
	h.Write([]byte(req.Recipient.String()))
	h.Write([]byte{0})
	h.Write([]byte(req.CallID().Value()))
	h.Write([]byte{0})
	if t, ok := req.From().Params.Get("tag"); ok {
		h.Write([]byte(t))
	}
	h.Write([]byte{0})
	if t, ok := req.To().Params.Get("tag"); ok {
		h.Write([]byte(t))
	}
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatUint(uint64(req.CSeq().SeqNo), 10)))
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// newBranch returns a branch unique to this forwarding that still carries req's loop
// hash. ACK and CANCEL reuse the INVITE's branch instead (§9.1, §17.1.1.3).
func newBranch(req *sip.Request) string {
	var r [6]byte
	rand.Read(r[:])
	return branchPrefix + loopHash(req) + "." + hex.EncodeToString(r[:])
}

// looped reports whether req already passed through us with the same identity: our own
// Via carrying a branch with the same loop hash. A request that comes back retargeted
// (a spiral) has a different hash and is fine.
func (n *node) looped(req *sip.Request) bool {
	want := "" // the hash only when one of our Vias is there: a phone's request has none
	for _, h := range req.GetHeaders("Via") {
		v, ok := h.(*sip.ViaHeader)
		if !ok || v.Host != n.host || v.Port != n.port {
			continue
		}
		if want == "" {
			want = branchPrefix + loopHash(req) + "."
		}
		if b, _ := v.Params.Get("branch"); strings.HasPrefix(b, want) {
			return true
		}
	}
	return false
}

// maxUDPRequest is the largest request sent over UDP when the path MTU is unknown
// (RFC 3261 §18.1.1). sipgo's UDP transport refuses anything over UDPMTUSize-200, the
// same 1300 bytes.
const maxUDPRequest = 1300

// wireSize is the length of req on the wire, counted as sipgo writes it out without
// building the text (which the transport does once more when it sends).
func wireSize(req *sip.Request) int {
	var n byteCount
	req.StringWrite(&n)
	return int(n)
}

// byteCount is an io.StringWriter that only counts.
type byteCount int

func (c *byteCount) WriteString(s string) (int, error) {
	*c += byteCount(len(s))
	return len(s), nil
}

// noBuild is a client request option that leaves the request as built: sipgo's default
// would fill in headers a proxy must not change.
func noBuild(*sipgo.Client, *sip.Request) error { return nil }

// proxy forwards req to t and relays the answers (RFC 3261 §16.6–16.7). sent is called
// once req has been sent on (or answered here): the next request of its dialog may go.
func (n *node) proxy(req *sip.Request, tx sip.ServerTransaction, t target, sent func()) {
	defer sent()
	if n.looped(req) {
		n.respond(req, tx, newSIPError(482, "Loop Detected"))
		return
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 {
		n.respond(req, tx, newSIPError(483, "Too Many Hops"))
		return
	}
	if t.kind == targetPark && req.Recipient.User == parkwire.ParkUser && n.pool.draining.Load() && !inDialog(req) {
		// Drain: no new parks (the park service refuses too; answering here saves a hop).
		n.respond(req, tx, &sipError{Code: 503, Reason: "Pool Draining", RetryAfter: n.pool.opt.RetryAfter})
		return
	}
	var cancelled <-chan struct{}
	if req.IsInvite() {
		// Watch for the caller's CANCEL before answering 100 Trying: the caller may send
		// it as soon as that arrives (§9.1), and one that came before the watch would be
		// lost — the callee left ringing until Timer C.
		cancelled = upstreamCancel(tx)
		// §16.2: a stateful proxy answers 100 at once so the caller stops retransmitting.
		if err := tx.Respond(sip.NewResponseFromRequest(req, 100, "Trying", nil)); err != nil {
			return
		}
		if hook := n.pool.opt.testBeforeForward; hook != nil {
			hook(tx)
		}
		select {
		case <-cancelled:
			// Cancelled (or its transaction over) before it went anywhere: sipgo has
			// answered the INVITE 487 itself, and there is nothing downstream to stop.
			n.log.Debug("invite cancelled before it was forwarded")
			return
		default:
		}
	}
	if forks(req, t) {
		n.fork(req, tx, t.bindings, cancelled, sent)
		return
	}
	fwd := n.forwardCopy(req, t)
	if t.transport == "UDP" && wireSize(fwd) > maxUDPRequest {
		// RFC 3261 §18.1.1: a request larger than 1300 bytes, the path MTU being
		// unknown, goes over a congestion-controlled transport — and sipgo would refuse
		// to send it over UDP anyway. Every SIP element must implement TCP (§18); pools
		// and park services listen for it on their UDP port, and so must a phone that
		// is sent such a request, or the caller gets 503.
		tt := t
		tt.transport = "TCP"
		fwd = n.forwardCopy(req, tt)
	}
	if req.IsAck() {
		// ACK for a 2xx has no transaction: relay it statelessly (§16.11 behaviour for a
		// proxy that is not in the route set, which only happens with odd routing).
		if err := n.writeRequest(fwd); err != nil {
			n.log.Debug("ack relay failed", "error", err)
		}
		return
	}
	ctr, err := n.transactionRequest(n.ctx, fwd)
	sent()
	n.log.Debug("forwarded", "method", req.Method, "to", t.addr, "error", err)
	n.logTraced(req, t, err)
	if err != nil {
		// §16.9: a transport error is a 503 from the unreachable element.
		if t.kind == targetPeer {
			// Worth an operator's eye: a peer link that fails (a TLS certificate the
			// CA does not vouch for, say) cuts the pair in half.
			n.log.Warn("forward to peer pool failed", "peer", n.pool.cfg.Peer.Name, "to", t.addr, "transport", t.transport, "error", err)
		} else {
			n.log.Debug("forward failed", "to", t.addr, "error", err)
		}
		n.respond(req, tx, &sipError{Code: 503, Reason: "Next Hop Unreachable", RetryAfter: n.pool.opt.RetryAfter})
		return
	}
	defer ctr.Terminate()
	var peerDown func() *sipError
	if t.kind == targetPeer && req.IsInvite() {
		// Only INVITE: a live pool answers it 100 Trying at once (§16.2), whereas a
		// non-INVITE's first answer waits for the far end, which may be slow.
		peerDown = func() *sipError { return n.withoutPeer(req) }
	}
	n.relay(req, tx, fwd, ctr, cancelled, peerDown)
}

// inDialog reports whether req belongs to an existing dialog (has a To tag).
func inDialog(req *sip.Request) bool {
	_, ok := req.To().Params.Get("tag")
	return ok
}

// forwardCopy builds the request to send downstream (§16.6 steps 1–8).
func (n *node) forwardCopy(req *sip.Request, t target) *sip.Request {
	fwd := req.Clone()
	if t.uri != nil {
		fwd.Recipient = *t.uri.Clone() // step 2: retarget to the registered contact
	}
	if mf := fwd.MaxForwards(); mf != nil {
		mf.Dec() // step 3
	} else {
		m := sip.MaxForwardsHeader(70)
		fwd.AppendHeader(&m)
	}
	// Step 4 (Record-Route) is deliberately skipped. Step 8: our Via on top; remember
	// where the upstream really sent from (RFC 3581 received/rport).
	if up := fwd.Via(); up != nil {
		if host, port, err := sip.ParseAddr(req.Source()); err == nil {
			if up.Host != host {
				up.Params.Add("received", host)
			}
			if v, ok := up.Params.Get("rport"); ok && v == "" {
				up.Params.Add("rport", strconv.Itoa(port))
			}
		}
	}
	via := &sip.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       t.transport,
		Host:            n.host,
		Port:            n.port,
		Params:          sip.NewParams(),
	}
	if t.transport == "TLS" && n.tlsL != nil {
		via.Port = n.tlsPort() // the address the peer knows us by (trust.go)
	}
	via.Params.Add("branch", newBranch(req))
	fwd.PrependHeader(via)
	fwd.SetTransport(t.transport)
	fwd.SetDestination(t.addr)
	fwd.SetSource("")
	if t.transport == "UDP" {
		// Send from the listening socket, so answers come back to the port in our Via.
		la := n.udp.LocalAddr().(*net.UDPAddr)
		fwd.Laddr = sip.Addr{IP: la.IP, Port: la.Port, Hostname: la.IP.String()}
	}
	return fwd
}

// relay passes downstream responses upstream until the transaction is over: the one
// select loop that owns this forwarded request. For INVITE it also carries a CANCEL from
// upstream downstream (§16.10) and runs Timer C (§16.6 step 11). With peerDown set (the
// request went to the paired pool), a peer that sends nothing at all within
// Options.PeerTimeout is taken for dead and peerDown's answer goes upstream.
func (n *node) relay(req *sip.Request, tx sip.ServerTransaction, fwd *sip.Request, ctr sip.ClientTransaction, cancelled <-chan struct{}, peerDown func() *sipError) {
	invite := req.IsInvite()
	var silent <-chan time.Time
	if peerDown != nil {
		t := time.NewTimer(n.pool.opt.PeerTimeout)
		defer t.Stop()
		silent = t.C
	}
	var timerC <-chan time.Time
	if invite {
		t := time.NewTimer(n.pool.opt.InviteTimeout)
		defer t.Stop()
		timerC = t.C
	}
	var (
		provisional  bool // a provisional answer came, so a CANCEL may be sent (§9.1)
		cancelWanted bool
		cancelSent   bool
		finalSent    bool
	)
	sendCancel := func() {
		if cancelSent {
			return
		}
		cancelSent = true
		// Owned by the node's context: it ends with the CANCEL's transaction or at Stop.
		// (Not in n.wg: Stop may already be waiting on it.)
		go n.cancelDownstream(fwd, nil)
	}
	for {
		select {
		case res := <-ctr.Responses():
			n.log.Debug("relay response", "code", res.StatusCode)
			silent = nil // the peer is alive: its answer, however slow, is the answer
			if res.StatusCode == 100 {
				// §16.7 step 3: 100 is hop-by-hop and not relayed.
				provisional = true
				if cancelWanted {
					sendCancel()
				}
				continue
			}
			if hook := n.pool.opt.testBeforeRelay; hook != nil {
				hook(res)
			}
			// Requests of the dialog read after this response wait until it has gone
			// upstream (package inorder): the NOTIFY sent right after a 202 must not
			// overtake it.
			out := upstreamCopy(res, req.Transport())
			if res.IsProvisional() {
				provisional = true
				if cancelWanted {
					sendCancel()
					n.order.Relayed(res)
					continue
				}
				if err := tx.Respond(out); err != nil {
					n.log.Debug("relay provisional failed", "error", err)
				}
				n.order.Relayed(res)
				continue
			}
			if finalSent {
				// A second final (only 2xx from a forking downstream is possible): relay
				// statelessly, the server transaction is gone (§16.7 step 5).
				if res.IsSuccess() && invite {
					n.writeStateless(out)
				}
				n.order.Relayed(res)
				continue
			}
			finalSent = true
			if err := tx.Respond(out); err != nil {
				n.log.Debug("relay final failed", "code", res.StatusCode, "error", err)
				if res.IsSuccess() && invite {
					// Upstream cancelled while downstream answered: the caller must still
					// get the 200 so it can ACK and BYE it (§16.10).
					n.writeStateless(out)
				}
			}
			n.order.Relayed(res)
			if res.IsSuccess() && invite && !cancelSent {
				releaseAccepted(ctr, fwd, res)
			}
			return
		case <-cancelled:
			cancelled = nil
			cancelWanted = true
			if provisional {
				sendCancel()
			}
		case <-timerC:
			timerC = nil
			// Timer C: give up on a callee that never answers.
			if provisional {
				sendCancel()
			} else {
				cancelWanted = true
			}
			if !finalSent {
				finalSent = true
				n.respond(req, tx, newSIPError(408, "Request Timeout"))
			}
		case <-silent:
			// No provisional answer was seen, so there is nothing to CANCEL (§9.1);
			// returning terminates the client transaction and its retransmissions.
			n.log.Info("peer pool silent: answering without it", "peer", fwd.Destination(), "method", req.Method, "user", req.Recipient.User)
			n.respond(req, tx, peerDown())
			return
		case <-ctr.Done():
			n.log.Debug("client transaction ended", "error", ctr.Err(), "final", finalSent)
			if !finalSent {
				// The client transaction ended without a final answer: Timer B/F fired
				// (§16.7 step 9 → 408) or the transport failed (§16.9 → 503).
				n.respond(req, tx, clientTxEnded(ctr))
			}
			return
		case <-n.ctx.Done():
			n.log.Debug("relay stopped with node")
			return
		}
	}
}

// releaseAccepted ends the client transaction of a forwarded INVITE answered 2xx, whose
// answer has gone upstream, and empties the request and the answer it holds. The 2xx put
// the transaction in Accepted (RFC 6026), whose Timer M sipgo never stops, so the ended
// transaction — with both messages, ≈ 8 KB — stayed reachable for 32 s, four times a park
// cycle (issue #12). Once ended nothing reads them: sipgo drops the transaction from its
// table (a retransmitted 2xx then goes to onStrayResponse) and Timer M, firing, only
// finds it closed. The caller must be done with both and have no CANCEL of fwd running.
func releaseAccepted(ctr sip.ClientTransaction, fwd *sip.Request, res *sip.Response) {
	ctr.Terminate()
	*fwd = sip.Request{}
	*res = sip.Response{}
}

// cancelDownstream sends CANCEL for the forwarded INVITE fwd (RFC 3261 §9.1): same
// Request-URI, Call-ID, From, To, CSeq number and our Via with the same branch, and
// reason (RFC 3326) when not nil.
func (n *node) cancelDownstream(fwd *sip.Request, reason sip.Header) {
	c := sip.NewRequest(sip.CANCEL, *fwd.Recipient.Clone())
	c.AppendHeader(fwd.Via().Clone())
	c.AppendHeader(sip.HeaderClone(fwd.From()))
	c.AppendHeader(sip.HeaderClone(fwd.To()))
	c.AppendHeader(sip.HeaderClone(fwd.CallID()))
	c.AppendHeader(&sip.CSeqHeader{SeqNo: fwd.CSeq().SeqNo, MethodName: sip.CANCEL})
	mf := sip.MaxForwardsHeader(70)
	c.AppendHeader(&mf)
	if reason != nil {
		c.AppendHeader(reason)
	}
	c.SetBody(nil)
	c.SetTransport(fwd.Transport())
	c.SetDestination(fwd.Destination())
	c.Laddr = fwd.Laddr
	ctx, cancel := context.WithTimeout(n.ctx, 40*time.Second)
	defer cancel()
	ctr, err := n.transactionRequest(ctx, c)
	if err != nil {
		n.log.Debug("cancel downstream failed", "error", err)
		return
	}
	defer ctr.Terminate()
	for {
		select {
		case res := <-ctr.Responses():
			if !res.IsProvisional() {
				return
			}
		case <-ctr.Done():
			return
		case <-ctx.Done():
			return
		}
	}
}

// writeStateless sends a response by its top Via, outside any transaction.
func (n *node) writeStateless(res *sip.Response) {
	if err := n.srv.WriteResponse(res); err != nil {
		n.log.Debug("stateless relay failed", "error", err)
	}
}

// onStrayResponse handles responses that match no client transaction: 2xx
// retransmissions to an INVITE whose transaction has ended are relayed statelessly
// (RFC 3261 §16.7 step 5 via §17.1.1.2); anything else is dropped.
func (n *node) onStrayResponse(res *sip.Response) {
	defer n.order.Relayed(res)
	v := res.Via()
	cs := res.CSeq()
	if v != nil && v.Host == n.host && v.Port == n.port {
		if b, _ := v.Params.Get("branch"); strings.HasPrefix(b, statelessPrefix) {
			// The answer to a request relayed statelessly that the read filter could
			// not read plainly (stateless.go): on by the next Via, whatever it is.
			if out := upstreamCopy(res, ""); out.Via() != nil {
				n.writeStateless(out)
			}
			return
		}
	}
	if v == nil || cs == nil || v.Host != n.host || v.Port != n.port || cs.MethodName != sip.INVITE || !res.IsSuccess() {
		return
	}
	if b, _ := v.Params.Get("branch"); !strings.HasPrefix(b, branchPrefix) {
		return
	}
	out := upstreamCopy(res, "")
	if out.Via() == nil {
		return
	}
	n.writeStateless(out)
}

// upstreamCopy is res as it goes upstream: our Via removed (§16.7 step 3) and the
// addressing sipgo copied from the downstream leg cleared, so it is sent by the next Via
// (with its received/rport, RFC 3581 §4) over transport (or the Via's when empty).
func upstreamCopy(res *sip.Response, transport string) *sip.Response {
	out := res.Clone()
	out.RemoveHeader("Via")
	out.SetDestination("")
	out.SetSource("")
	out.SetTransport(transport)
	if transport == "" {
		if v := out.Via(); v != nil {
			out.SetTransport(strings.ToUpper(v.Transport))
		}
	}
	return out
}
