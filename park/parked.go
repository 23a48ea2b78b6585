package park

import (
	"context"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/sip/calltrace"
	"github.com/parkway/parkway/sip/transfer"
)

// parkedCall is one call at an orbit. Its fields are guarded by Service.mu;
// its loop (run) is the only goroutine acting on its dialogs.
type parkedCall struct {
	info       parkwire.ParkedCall // State "" while reserved, before the 200 is ACKed
	leg        *leg                // park ↔ parked party
	retrieving bool                // a retriever's leg is on its way to the loop
	reparked   bool                // came with its original park time (survivable.go)
	retrievers chan *retriever
	trace      string        // the call's trace id (package calltrace): its INVITE's, or minted
	ready      chan struct{} // closed once parked (the 200 was ACKed)
	done       chan struct{} // closed when the call left its orbit
}

// reserve claims orbit (or any free one when orbit is "") so no one else
// can park there while we answer.
func (r *run) reserve(orbit string) (*parkedCall, *Error) {
	var err error
	if orbit != "" {
		err = r.orbits.Claim(orbit)
	} else {
		orbit, err = r.orbits.ClaimFirst(r.s.cfg.Orbits)
	}
	if err != nil {
		return nil, asError(err)
	}
	pc := &parkedCall{info: parkwire.ParkedCall{Orbit: orbit}, retrievers: make(chan *retriever),
		ready: make(chan struct{}), done: make(chan struct{})}
	r.s.mu.Lock()
	r.calls[orbit] = pc
	r.s.mu.Unlock()
	return pc, nil
}

// release frees an orbit whose call never got parked.
func (r *run) release(pc *parkedCall) {
	r.s.mu.Lock()
	if r.calls[pc.info.Orbit] == pc {
		delete(r.calls, pc.info.Orbit)
		r.orbits.Release(pc.info.Orbit)
	}
	r.s.mu.Unlock()
	close(pc.done)
}

// startParked starts the parked call's loop. Its pickup timeout counts from
// info.Since (the original park time of a re-park, survivable.go), or from now
// when that is not set yet.
func (r *run) startParked(pc *parkedCall) {
	r.s.mu.Lock()
	reason := "parked"
	if pc.reparked {
		reason = parkwire.ReasonReparked
	}
	if pc.info.Since.IsZero() {
		pc.info.Since = time.Now()
	}
	pc.info.Deadline = pc.info.Since.Add(r.s.pickupTimeout())
	pc.info.State = parkwire.StateParked
	info := pc.info
	r.s.mu.Unlock()
	close(pc.ready)
	r.publish(info, reason, pc.trace)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.loop(pc)
	}()
	if info.ParkedBy != "" {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.tellParker(info)
		}()
	}
}

// publish records an event for in-process listeners and SIP subscribers.
func (r *run) publish(info parkwire.ParkedCall, reason, trace string) {
	e := r.s.hub.publish(parkwire.Event{Time: time.Now(), Call: info, Reason: reason})
	r.s.mu.Lock()
	r.last = &e
	r.s.mu.Unlock()
	r.s.log.Info("park event", "orbit", info.Orbit, "state", info.State, "reason", reason, "seq", e.Seq, calltrace.Attr, trace)
	r.s.opt.Metrics.ParkEvent(string(info.State))
	r.kickSubscriptions(info.Orbit)
}

func (r *run) setState(pc *parkedCall, st parkwire.State, reason string) {
	r.s.mu.Lock()
	pc.info.State = st
	info := pc.info
	r.s.mu.Unlock()
	r.publish(info, reason, pc.trace)
}

// finish takes the call off its orbit with a final state.
func (r *run) finish(pc *parkedCall, st parkwire.State, reason string) {
	r.s.mu.Lock()
	pc.info.State = st
	if r.calls[pc.info.Orbit] == pc {
		delete(r.calls, pc.info.Orbit)
		r.orbits.Release(pc.info.Orbit)
	}
	info := pc.info
	r.s.mu.Unlock()
	close(pc.done)
	r.publish(info, reason, pc.trace)
}

// loop is the parked call's one select loop: it ends when the call is
// retrieved, times out, the parked party hangs up, or the service stops.
func (r *run) loop(pc *parkedCall) {
	ctx := r.ctx
	timer := time.NewTimer(time.Until(pc.info.Deadline))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return // Stop: vanish like a crashed server, no BYE
		case <-pc.leg.gone:
			r.finish(pc, parkwire.StateDisconnected, "parked party hung up")
			return
		case rt := <-pc.retrievers:
			if st, why := r.takeOver(ctx, pc, rt); st != "" {
				r.finish(pc, st, why)
				return
			}
			r.s.mu.Lock()
			pc.retrieving = false
			r.s.mu.Unlock()
			if pc.leg.ended() {
				r.finish(pc, parkwire.StateDisconnected, "parked party hung up")
				return
			}
		case <-timer.C:
			r.timeout(ctx, pc)
			return
		}
	}
}

// takeOver gives the parked call to a retriever, by transfer when the
// retriever supports Replaces and by bridging media otherwise. It returns
// the final state ("" when the call stays parked) and why.
func (r *run) takeOver(ctx context.Context, pc *parkedCall, rt *retriever) (parkwire.State, string) {
	if rt.direct {
		return r.bridge(ctx, pc, rt)
	}
	return r.handTo(ctx, pc, rt.leg, rt.offer)
}

// handTo connects the parked party with other, an established call of
// ours (a retriever, or a parker who answered a ring-back) whose SDP is
// otherSDP: by transfer (connect), or — when the parked party cannot take
// a REFER — by bridging media with two re-INVITEs (bridgeLegs).
func (r *run) handTo(ctx context.Context, pc *parkedCall, other *leg, otherSDP []byte) (parkwire.State, string) {
	ok, refused := false, !pc.leg.peerAllowsRefer()
	if !refused {
		ok, refused = r.connect(ctx, pc, other)
	}
	switch {
	case ok:
		return parkwire.StateRetrieved, "retrieved"
	case refused:
		return r.bridgeLegs(ctx, pc, other, otherSDP)
	}
	other.hangup(ctx, ErrRetrieveFailed.withOrbit(pc.info.Orbit))
	return "", ""
}

// peerAllowsRefer reads the peer's Allow (RFC 3261 §20.5) from its INVITE,
// or from its 200 when we called it: absent means unknown, so we try.
func (l *leg) peerAllowsRefer() bool {
	var hs []sip.Header
	if l.cs != nil {
		hs = l.res.GetHeaders("Allow")
	} else {
		hs = l.invite.GetHeaders("Allow")
	}
	if len(hs) == 0 {
		return true
	}
	for _, h := range hs {
		if strings.Contains(strings.ToUpper(h.Value()), "REFER") {
			return true
		}
	}
	return false
}

// connect hands the parked party to other, a call the park service has
// with the retriever (or with the parker who answered a ring-back). The
// parked party gets a REFER (RFC 3515) whose Refer-To is other's Contact
// with an embedded Replaces naming other's dialog (RFC 3891), so its
// INVITE goes straight to the retriever and takes over our dialog there.
// When the transfer succeeds both of our dialogs end and nothing of the
// call passes through the park service any more. refused reports a REFER
// turned down outright (the parked party does not do transfers).
func (r *run) connect(ctx context.Context, pc *parkedCall, other *leg) (ok, refused bool) {
	b := pc.leg
	rep := &transfer.Replaces{CallID: other.callID, ToTag: other.remoteTag(), FromTag: other.localTag()}
	referTo := transfer.FormatReferTo(other.remoteTarget(), rep)
	tctx, cancel := context.WithTimeout(ctx, r.s.opt.TransferTimeout)
	defer cancel()
	res, err := b.request(tctx, sip.REFER, nil,
		sip.NewHeader("Refer-To", referTo),
		sip.NewHeader("Referred-By", "<"+r.s.ParkURI()+">"),
		sip.NewHeader(parkwire.OrbitHeader, pc.info.Orbit))
	if err == nil && !res.IsSuccess() {
		switch res.StatusCode {
		case 403, 405, 420, 489, 501, 603:
			return false, true
		}
	}
	ok = err == nil && res.IsSuccess()
	if ok {
		ok = r.awaitTransfer(tctx, b, other)
	}
	if !ok {
		r.s.log.Info("retrieve failed", "orbit", pc.info.Orbit, "err", err, calltrace.Attr, pc.trace)
		return false, false
	}
	r.s.mu.Lock()
	pc.info.RetrievedBy = other.remoteIdentity()
	r.s.mu.Unlock()
	// RFC 5589 §6.1: the transferor ends its dialog with the transferee once
	// the transfer succeeded. The retriever's side was replaced and is BYEd
	// by the retriever; if it does not, we end it too.
	b.hangup(ctx, nil)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		select {
		case <-other.gone:
		case <-time.After(5 * time.Second):
			other.hangup(r.ctx, nil)
		case <-r.ctx.Done():
		}
	}()
	return true, false
}

// awaitTransfer waits for the NOTIFY with the final status of the parked
// party's INVITE (RFC 3515 §2.4.5). Some phones BYE the transferor instead
// of (or before) the final NOTIFY: if the retriever's dialog with us was
// replaced (BYE from the retriever) at the same time, that is success too.
func (r *run) awaitTransfer(ctx context.Context, b, other *leg) bool {
	for {
		select {
		case code := <-b.referResult:
			if code >= 300 {
				return false
			}
			if code >= 200 {
				return true
			}
		case <-b.gone:
			select {
			case <-other.gone:
				return true
			case <-time.After(2 * time.Second):
				return false
			case <-ctx.Done():
				return false
			}
		case <-other.gone:
			// Replaced at the retriever: wait briefly for the NOTIFY, but
			// the call is already where it belongs.
			select {
			case code := <-b.referResult:
				return code < 300
			case <-time.After(2 * time.Second):
				return true
			case <-ctx.Done():
				return true
			}
		case <-ctx.Done():
			return false
		}
	}
}

// timeout runs the end of a parked call nobody picked up: ring the parker
// back up to MaxPickupAttempts times, then the on-timeout URI, then
// disconnect with "Park time expired" (ARCHITECTURE.md §3).
func (r *run) timeout(ctx context.Context, pc *parkedCall) {
	type target struct {
		uri    string
		parker bool
	}
	var targets []target
	if pc.info.ParkedBy != "" {
		for i := 0; i < r.s.cfg.MaxPickupAttempts; i++ {
			targets = append(targets, target{pc.info.ParkedBy, true})
		}
	}
	if r.s.cfg.OnTimeoutURI != "" {
		targets = append(targets, target{r.s.cfg.OnTimeoutURI, false})
	}
	for _, t := range targets {
		reason := "calling on-timeout URI " + t.uri
		if t.parker {
			reason = "ringing back " + t.uri
			r.s.mu.Lock()
			pc.info.Attempts++
			r.s.mu.Unlock()
		}
		r.setState(pc, parkwire.StateRingingBack, reason)
		answered, retriever, gone := r.ring(ctx, pc, t.uri)
		switch {
		case ctx.Err() != nil:
			return
		case gone:
			r.finish(pc, parkwire.StateDisconnected, "parked party hung up")
			return
		case retriever != nil:
			if st, why := r.takeOver(ctx, pc, retriever); st != "" {
				r.finish(pc, st, why+" while ringing back")
				return
			}
		case answered != nil:
			if st, _ := r.handTo(ctx, pc, answered, answered.res.Body()); st != "" {
				r.finish(pc, st, "answered by "+t.uri)
				return
			}
		}
		r.s.mu.Lock()
		pc.retrieving = false
		r.s.mu.Unlock()
		if pc.leg.ended() {
			r.finish(pc, parkwire.StateDisconnected, "parked party hung up")
			return
		}
	}
	pc.leg.hangup(ctx, ErrParkTimeExpired.withOrbit(pc.info.Orbit))
	r.finish(pc, parkwire.StateTimedOut, ErrParkTimeExpired.Text)
}

// ring calls target while watching the parked call: a retriever arriving
// or the parked party hanging up cancels the ring (CANCEL, RFC 3261 §9).
func (r *run) ring(ctx context.Context, pc *parkedCall, target string) (answered *leg, retriever *retriever, gone bool) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct{ l *leg }
	done := make(chan result, 1)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		l, err := r.dial(rctx, target, pc.info.Orbit, r.s.opt.RingTimeout, false, sip.NewHeader(calltrace.Header, pc.trace))
		if err != nil {
			r.s.log.Info("ring-back not answered", "orbit", pc.info.Orbit, "target", target, "err", err, calltrace.Attr, pc.trace)
		}
		done <- result{l}
	}()
	// drop gives the ring up without waiting for it to end: a phone that has not
	// rung yet is cancelled once it does (dial), which may take a moment the
	// retriever should not wait for; one that answered meanwhile is hung up.
	drop := func() {
		cancel()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if res := <-done; res.l != nil {
				res.l.hangup(r.ctx, nil)
			}
		}()
	}
	select {
	case res := <-done:
		return res.l, nil, false
	case rt := <-pc.retrievers:
		drop()
		return nil, rt, false
	case <-pc.leg.gone:
		drop()
		return nil, nil, true
	case <-ctx.Done():
		cancel()
		<-done
		return nil, nil, true
	}
}

// tellParker sends the parker a MESSAGE (RFC 3428) naming the orbit, the
// way Lync shows "call parked at 7005".
func (r *run) tellParker(info parkwire.ParkedCall) {
	var uri sip.Uri
	if err := sip.ParseUri(info.ParkedBy, &uri); err != nil {
		return
	}
	req := sip.NewRequest(sip.MESSAGE, uri)
	from := sip.FromHeader{DisplayName: "Call Park", Address: sip.Uri{Scheme: "sip", User: parkwire.ParkUser, Host: r.s.opt.Domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(&from)
	req.AppendHeader(&sip.ToHeader{Address: uri})
	req.AppendHeader(sip.NewHeader(parkwire.OrbitHeader, info.Orbit))
	req.AppendHeader(sip.NewHeader("Content-Type", "text/plain;charset=utf-8"))
	req.SetBody([]byte("Parked at " + info.Orbit))
	r.outbound(req)
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
	defer cancel()
	if res, err := r.cli.Do(ctx, req); err != nil || !res.IsSuccess() {
		r.s.log.Info("could not tell the parker", "orbit", info.Orbit, "parker", info.ParkedBy, "err", err)
	}
}

// onNotify takes the transferee's progress reports on a REFER we sent
// (RFC 3515 §2.4.5); the park service subscribes to nothing else.
func (r *run) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	ev := strings.ToLower(strings.TrimSpace(headerValue(req, "Event")))
	if ev != "refer" && !strings.HasPrefix(ev, "refer;") {
		respond(req, tx, 489, "Bad Event")
		return
	}
	l := r.legByID(req.CallID().Value())
	if l == nil {
		respond(req, tx, 481, "Subscription Does Not Exist")
		return
	}
	code, err := transfer.ParseSipfrag(req.Body())
	if err != nil {
		respond(req, tx, 400, "Bad sipfrag")
		return
	}
	respond(req, tx, 200, "OK")
	select {
	case l.referResult <- code:
	default:
	}
}
