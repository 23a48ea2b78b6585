package park

import (
	"context"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/sip/transfer"
)

// Park by REFER to the park service (draft-procter-bliss-call-park-extension
// style): the parker sends an out-of-dialog REFER (RFC 3515 §2.4.2) to
// sip:park@ or sip:<orbit>@ whose Refer-To is the parked party with a
// Replaces naming the parker's dialog with it. The park service INVITEs the
// parked party with that Replaces (RFC 3891), which swaps the parker out of
// the call, and reports progress in NOTIFYs of the implicit subscription.
// The parked party only has to accept an INVITE with Replaces, so phones
// and SIPp scripts that cannot follow a REFER can still be parked.
//
//	A (parker)                      park service                     B (parked)
//	   |-- REFER sip:park@ Refer-To: <B?Replaces=A↔B> -->|                 |
//	   |<-- 202 (X-Parkway-Orbit: 7005) -----------------|                 |
//	   |<-- NOTIFY sipfrag 100 --------------------------|                 |
//	   |                                                 |-- INVITE Replaces: A↔B -->|
//	   |                                                 |<-------- 200 -------------|
//	   |                                                 |--------- ACK ------------>|
//	   |<-- NOTIFY sipfrag 200 (terminated) -------------|==== music on hold =======>|
//	   |<=========== BYE (B ends the replaced A↔B dialog) ============================|
func (r *run) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		// We never create dialogs a REFER could arrive in, except
		// subscriptions, where REFER makes no sense.
		respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	user := req.Recipient.User
	orbit := ""
	switch {
	case strings.EqualFold(user, parkwire.ParkUser):
	case r.s.Owns(user):
		orbit = user
	default:
		r.respondErr(req, tx, ErrOrbitNotFound.withOrbit(user))
		return
	}
	if r.s.draining.Load() {
		r.respondErr(req, tx, ErrDraining)
		return
	}
	if req.Contact() == nil || req.From() == nil {
		respond(req, tx, 400, "Missing Contact or From")
		return
	}
	rt, err := transfer.ParseReferTo(headerValue(req, "Refer-To"))
	if err != nil {
		respond(req, tx, 400, "Bad Refer-To")
		return
	}
	pc, perr := r.reserve(orbit)
	if perr != nil {
		r.respondErr(req, tx, perr)
		return
	}
	parker := referredBy(req)
	if parker == "" {
		parker = req.From().Address.String()
	}
	// The 202 creates the implicit subscription dialog (RFC 3515 §2.4.4):
	// our tag on To, our Contact for the parker's requests in it.
	n := &referNotifier{r: r, callID: req.CallID().Value(), target: req.Contact().Address, tport: req.Transport()}
	n.from = req.To().AsFrom()
	n.from.Params = n.from.Params.Clone()
	n.from.Params.Add("tag", sip.GenerateTagN(16))
	n.to = req.From().AsTo()
	res := sip.NewResponseFromRequest(req, 202, "Accepted", nil)
	res.To().Params = n.from.Params.Clone()
	ct := r.contact()
	res.AppendHeader(&ct)
	res.AppendHeader(sip.NewHeader(parkwire.OrbitHeader, pc.info.Orbit))
	if err := tx.Respond(res); err != nil {
		r.release(pc)
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.parkByRefer(pc, rt, parker, n)
	}()
}

// parkByRefer calls the parked party with the parker's Replaces and parks
// the call it answers.
func (r *run) parkByRefer(pc *parkedCall, rt transfer.ReferTo, parker string, n *referNotifier) {
	ctx := r.ctx
	n.notify(ctx, 100, "Trying", false)
	hdrs := []sip.Header{sip.NewHeader("Referred-By", "<"+parker+">")}
	if rt.Replaces != nil {
		hdrs = append(hdrs, sip.NewHeader("Replaces", rt.Replaces.String()))
	}
	// With Replaces the target is the parked party's contact: go straight
	// there. Without, it is an AOR for the proxy to route.
	l, err := r.dial(ctx, rt.Target.String(), pc.info.Orbit, r.s.opt.RingTimeout, rt.Replaces != nil, hdrs...)
	if err != nil {
		code, reason := 480, "Temporarily Unavailable"
		if d, ok := asDialogError(err); ok {
			code, reason = d.StatusCode, d.Reason
		}
		r.release(pc)
		n.notify(ctx, code, reason, true)
		return
	}
	d, derr := sdpRules.Parse(l.res.Body())
	r.s.mu.Lock()
	pc.leg = l
	pc.info.ParkedParty = l.remoteIdentity()
	pc.info.ParkedBy = parker
	r.s.mu.Unlock()
	if derr == nil {
		var music []byte
		if !r.s.cfg.DisableMusicOnHold {
			music = r.s.music
		}
		l.media.play(d.UDPAddr(), l.pt, music)
	}
	r.startParked(pc)
	n.notify(ctx, 200, "OK", true)
}

// referNotifier sends the NOTIFYs of a REFER's implicit subscription
// (RFC 3515 §2.4.4-2.4.5) from the notifier side.
type referNotifier struct {
	r      *run
	callID string
	from   sip.FromHeader
	to     sip.ToHeader
	target sip.Uri
	tport  string
	cseq   uint32
}

func (n *referNotifier) notify(ctx context.Context, code int, reason string, final bool) {
	n.cseq++
	req := sip.NewRequest(sip.NOTIFY, n.target)
	req.SetTransport(n.tport)
	from, to := n.from, n.to
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	id := sip.CallIDHeader(n.callID)
	req.AppendHeader(&id)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: n.cseq, MethodName: sip.NOTIFY})
	ct := n.r.contact()
	req.AppendHeader(&ct)
	req.AppendHeader(sip.NewHeader("Event", "refer"))
	state := "active;expires=60"
	if final {
		state = "terminated;reason=noresource"
	}
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	req.SetBody(transfer.Sipfrag(code, reason))
	n.r.stamp(req)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := n.r.cli.Do(ctx, req); err != nil {
		n.r.s.log.Debug("refer notify failed", "call-id", n.callID, "err", err)
	}
}
