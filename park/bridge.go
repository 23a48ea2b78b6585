package park

import (
	"context"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
)

// retriever is someone who dialled an orbit, on its way to the parked
// call's loop.
//
// A retriever whose INVITE says "Supported: replaces" (RFC 3891 §6.1) is
// answered at once and gets the parked party by transfer (connect), which
// takes the park service out of the path entirely. One that does not —
// SIPp scripts, minimal phones — keeps its INVITE pending while the park
// service re-INVITEs the parked party towards the retriever's SDP and
// answers the retriever with the parked party's: third-party call control
// (RFC 3725 §4.1 flow I). Media then flows directly, but both dialogs stay
// with the park service, which relays the BYE. This is the documented
// exception to "the park service drops out of the path".
type retriever struct {
	leg       *leg
	direct    bool
	offer     []byte      // the retriever's SDP offer (direct only)
	answerSDP chan []byte // loop → handler: SDP to answer with, nil = failed
	answered  chan error  // handler → loop: the 200 was ACKed (or not)
}

// supportsReplaces reads the Supported header (RFC 3261 §20.37).
func supportsReplaces(req *sip.Request) bool {
	for _, h := range req.GetHeaders("Supported") {
		for _, tag := range strings.Split(h.Value(), ",") {
			if strings.EqualFold(strings.TrimSpace(tag), "replaces") {
				return true
			}
		}
	}
	for _, h := range req.GetHeaders("k") { // compact form of Supported
		if strings.Contains(strings.ToLower(h.Value()), "replaces") {
			return true
		}
	}
	return false
}

// bridge connects a retriever without Replaces by re-INVITE (see retriever).
func (r *run) bridge(ctx context.Context, pc *parkedCall, rt *retriever) (parkwire.State, string) {
	b := pc.leg
	tctx, cancel := context.WithTimeout(ctx, r.s.opt.TransferTimeout)
	defer cancel()
	res, err := r.reinvite(tctx, b, rt.offer)
	if err != nil || !res.IsSuccess() {
		r.s.log.Info("bridge re-INVITE failed", "orbit", pc.info.Orbit, "err", err)
		rt.answerSDP <- nil
		return "", ""
	}
	// The parked party now sends to the retriever: music stops here.
	b.media.close()
	rt.answerSDP <- res.Body()
	select {
	case err = <-rt.answered:
	case <-ctx.Done():
		return "", ""
	}
	if err != nil {
		b.hangup(ctx, ErrRetrieveFailed.withOrbit(pc.info.Orbit))
		return parkwire.StateDisconnected, "retriever did not complete the answer"
	}
	r.s.mu.Lock()
	pc.info.RetrievedBy = rt.leg.remoteIdentity()
	b.peerSDP = rt.offer
	rt.leg.peerSDP = res.Body()
	r.s.mu.Unlock()
	r.relayBye(b, rt.leg)
	return parkwire.StateRetrieved, "retrieved (media bridged by re-INVITE)"
}

// bridgeLegs points two established calls of ours at each other with two
// re-INVITEs (RFC 3725 §4.1 style): the parked party gets other's SDP as
// an offer, other gets the parked party's answer. For parked parties that
// refuse REFER.
func (r *run) bridgeLegs(ctx context.Context, pc *parkedCall, other *leg, otherSDP []byte) (parkwire.State, string) {
	b := pc.leg
	tctx, cancel := context.WithTimeout(ctx, r.s.opt.TransferTimeout)
	defer cancel()
	res1, err := r.reinvite(tctx, b, otherSDP)
	if err != nil || !res1.IsSuccess() {
		r.s.log.Info("bridge re-INVITE of parked party failed", "orbit", pc.info.Orbit, "err", err)
		other.hangup(ctx, ErrRetrieveFailed.withOrbit(pc.info.Orbit))
		return "", ""
	}
	b.media.close()
	res2, err := r.reinvite(tctx, other, res1.Body())
	if err != nil || !res2.IsSuccess() {
		r.s.log.Info("bridge re-INVITE of retriever failed", "orbit", pc.info.Orbit, "err", err)
		other.hangup(ctx, ErrRetrieveFailed.withOrbit(pc.info.Orbit))
		b.hangup(ctx, ErrRetrieveFailed.withOrbit(pc.info.Orbit))
		return parkwire.StateDisconnected, "retriever refused the bridged media"
	}
	other.media.close()
	r.s.mu.Lock()
	pc.info.RetrievedBy = other.remoteIdentity()
	b.peerSDP = otherSDP
	other.peerSDP = res1.Body()
	r.s.mu.Unlock()
	r.relayBye(b, other)
	return parkwire.StateRetrieved, "retrieved (media bridged by re-INVITE)"
}

// relayBye ends each bridged leg when the other ends (RFC 3725 §4.1: the
// controller tears down the other side).
func (r *run) relayBye(a, b *leg) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		select {
		case <-a.gone:
			b.hangup(r.ctx, nil)
		case <-b.gone:
			a.hangup(r.ctx, nil)
		case <-r.ctx.Done():
		}
	}()
}

// reinvite sends an in-dialog INVITE with sdp on a leg where we are UAS and
// ACKs a 2xx (RFC 3261 §14.1, §13.2.2.4).
func (r *run) reinvite(ctx context.Context, l *leg, sdp []byte) (*sip.Response, error) {
	req := sip.NewRequest(sip.INVITE, l.remoteTarget())
	req.SetTransport(l.invite.Transport())
	r.stamp(req)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(sdp)
	res, err := l.request2(ctx, req)
	if err != nil || !res.IsSuccess() {
		return res, err
	}
	ack := sip.NewRequest(sip.ACK, l.remoteTarget())
	ack.SetTransport(l.invite.Transport())
	r.stamp(ack)
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: req.CSeq().SeqNo, MethodName: sip.ACK})
	if to := res.To(); to != nil {
		ack.AppendHeader(sip.HeaderClone(to))
	}
	if l.ss != nil {
		err = l.ss.WriteRequest(ack)
	} else {
		err = l.cs.WriteRequest(ack)
	}
	return res, err
}
