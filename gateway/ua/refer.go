package ua

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/sip/audiosdp"
	"github.com/parkway/parkway/sip/calltrace"
	"github.com/parkway/parkway/sip/transfer"
)

// referResult is one NOTIFY's sipfrag (RFC 3515 §2.4.5): the status of the INVITE the
// transferee sent, and the orbit when that INVITE parked it.
type referResult struct {
	code  int
	orbit string
}

// Transfer blind-transfers the far end to target (a user, number or sip: URI): REFER
// (RFC 3515), then it waits for the NOTIFY with the final status of the far end's
// INVITE. On success the call ends with reason "transferred"; on failure it stays up
// (RFC 5589 §6) and the error is a *StatusError with the far end's status.
func (c *Call) Transfer(ctx context.Context, target string) error {
	uri, err := targetURI(target, c.u.Pool())
	if err != nil {
		return fmt.Errorf("ua: transfer: %w", err)
	}
	res, err := c.refer(ctx, transfer.FormatReferTo(uri, nil), "transferred")
	if err != nil {
		return fmt.Errorf("ua: transfer to %s: %w", target, err)
	}
	if res.code >= 300 {
		return fmt.Errorf("ua: transfer to %s: %w", target, &StatusError{Method: "transfer", Code: res.code, Reason: "failed"})
	}
	return c.End(context.WithoutCancel(ctx), "transferred")
}

// AttendedTransfer connects this call's far end with consult's (RFC 5589 §7): a REFER
// on this call whose Refer-To is consult's far end with an embedded Replaces naming the
// consult dialog (RFC 3891), so the transferee's INVITE takes consult's place. Both
// calls end with reason "transferred" once the transferee reports success.
func (c *Call) AttendedTransfer(ctx context.Context, consult *Call) error {
	if consult == nil || consult == c || consult.u.m != c.u.m {
		return fmt.Errorf("ua: attended transfer: bad consult call")
	}
	cd := consult.dialog()
	if cd == nil || consult.State() == signaling.CallEnded {
		return fmt.Errorf("ua: attended transfer: consult call: %w", ErrNotActive)
	}
	// Tags from the target's point of view: to-tag is the target's own tag (our
	// remote tag), from-tag its peer's (ours) (RFC 3891 §3).
	rp := &transfer.Replaces{CallID: cd.callID, ToTag: cd.remoteTag(), FromTag: cd.localTag()}
	res, err := c.refer(ctx, transfer.FormatReferTo(cd.remoteTarget(), rp), "transferred")

	if err != nil {
		return fmt.Errorf("ua: attended transfer: %w", err)
	}
	if res.code >= 300 {
		return fmt.Errorf("ua: attended transfer: %w", &StatusError{Method: "transfer", Code: res.code, Reason: "failed"})
	}
	bg := context.WithoutCancel(ctx)
	_ = consult.End(bg, "transferred")
	return c.End(bg, "transferred")
}

// refer sends a REFER on the current dialog and waits, off the loop, for the NOTIFY
// that reports the final outcome (RFC 3515 §2.4.4). When it succeeds the call ends with
// reason done — even if the transferee's BYE gets here before we hang up ourselves.
func (c *Call) refer(ctx context.Context, referTo, done string) (referResult, error) {
	var d *dialog
	err := c.do(ctx, func() error {
		c.mu.Lock()
		d = c.d
		state := c.state
		c.mu.Unlock()
		if d == nil || (state != signaling.CallActive && state != signaling.CallHeld) {
			return ErrNotActive
		}
		for len(d.referResults) > 0 { // forget a previous REFER's reports
			<-d.referResults
		}
		c.mu.Lock()
		c.referReason, c.referOK = done, false
		c.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, c.u.m.cfg.RequestTimeout)
		defer cancel()
		_, err := d.request(rctx, sip.REFER, nil,
			sip.NewHeader("Refer-To", referTo),
			sip.NewHeader("Referred-By", "<"+aorString(c.u)+">")) // RFC 3892
		return err
	})
	if err != nil {
		return referResult{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, c.u.m.cfg.ReferTimeout)
	defer cancel()
	for {
		select {
		case r := <-d.referResults:
			if r.code >= 200 {
				return r, nil
			}
		case <-c.done:
			// The far end may hang up right after its final NOTIFY; take it if it came
			// (behind any provisional ones).
			for {
				select {
				case r := <-d.referResults:
					if r.code >= 200 {
						return r, nil
					}
					continue
				default:
				}
				return referResult{}, ErrCallEnded
			}
		case <-wctx.Done():
			return referResult{}, fmt.Errorf("waiting for the transfer's NOTIFY: %w", wctx.Err())
		}
	}
}

// onReferNotify takes a NOTIFY in one of our dialogs: the progress of a REFER we sent.
func (m *Manager) onReferNotify(d *dialog, req *sip.Request, tx sip.ServerTransaction) {
	ev := strings.ToLower(headerValue(req, "Event"))
	if ev != "refer" && !strings.HasPrefix(ev, "refer;") {
		respond(req, tx, 489, "Bad Event", sip.NewHeader("Allow-Events", "refer"))
		return
	}
	code, err := transfer.ParseSipfrag(req.Body())
	if err != nil {
		respond(req, tx, 400, "Bad sipfrag")
		return
	}
	r := referResult{code: code, orbit: sipfragHeader(req.Body(), parkwire.OrbitHeader)}
	if code >= 200 && code < 300 {
		c := d.call
		c.mu.Lock()
		c.referOK = true
		if r.orbit != "" {
			c.orbit = r.orbit
		}
		c.mu.Unlock()
	}
	select {
	case d.referResults <- r:
	default:
	}
	// Only now: the transferee hangs up as soon as this 200 reaches it, and the end of
	// the call must find the outcome, the transfer's success and the orbit recorded.
	respond(req, tx, 200, "OK")
}

// sipfragHeader finds a header in a message/sipfrag body (RFC 3420 §2).
func sipfragHeader(body []byte, name string) string {
	lines := strings.Split(string(body), "\n")
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(strings.TrimRight(l, "\r"), ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// onRefer accepts a REFER on one of our calls (RFC 3515 §2.4.2) and follows it: this
// is how a parked party reaches the park service, how it is handed to its retriever,
// and how a blind or attended transfer moves a user's call.
func (m *Manager) onRefer(d *dialog, req *sip.Request, tx sip.ServerTransaction) {
	c := d.call
	rt, err := transfer.ParseReferTo(headerValue(req, "Refer-To"))
	if err != nil {
		respond(req, tx, 400, "Bad Refer-To")
		return
	}
	referredBy := headerValue(req, "Referred-By")
	if referredBy == "" {
		referredBy = "<" + req.From().Address.String() + ">"
	}
	ok := c.exec(func() {
		c.mu.Lock()
		current, state := c.d == d, c.state
		c.mu.Unlock()
		if !current || (state != signaling.CallActive && state != signaling.CallHeld) {
			respond(req, tx, 481, "Call/Transaction Does Not Exist")
			return
		}
		respond(req, tx, 202, "Accepted")
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.followRefer(d, rt, referredBy)
		}()
	})
	if !ok {
		respond(req, tx, 481, "Call/Transaction Does Not Exist")
	}
}

// followRefer INVITEs the Refer-To target on the call's behalf — with Referred-By
// (RFC 3892) and any embedded Replaces (RFC 3891) — and, once answered, moves the
// call onto the new dialog with the same MediaLeg (only SetRemote changes, so the
// browser renegotiates nothing), reports the outcome to the referrer with NOTIFY
// sipfrag (RFC 3515 §2.4.5) and ends the old dialog.
func (c *Call) followRefer(old *dialog, rt transfer.ReferTo, referredBy string) {
	ctx, cancel := context.WithTimeout(c.ctx, waitTimeout+c.u.m.cfg.RequestTimeout)
	defer cancel()
	bg := context.WithoutCancel(ctx)
	notify := func(code int, reason, orbit string, final bool) {
		state := "active;expires=60"
		if final {
			state = "terminated;reason=noresource"
		}
		body := transfer.Sipfrag(code, reason)
		if orbit != "" {
			body = append(body, []byte(parkwire.OrbitHeader+": "+orbit+"\r\n")...)
		}
		nctx, ncancel := context.WithTimeout(bg, c.u.m.cfg.RequestTimeout)
		defer ncancel()
		_, _ = old.request(nctx, sip.NOTIFY, body,
			sip.NewHeader("Event", "refer"),
			sip.NewHeader("Subscription-State", state),
			sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	}
	notify(100, "Trying", "", false)

	var extra []sip.Header
	if rt.Replaces != nil {
		extra = append(extra, sip.NewHeader("Replaces", rt.Replaces.String()))
	}
	// A contact (an IP host) is reached directly, so no pool ends up in the path of the
	// new call; a domain goes through the pool's proxy.
	_, notIP := netip.ParseAddr(rt.Target.Host)
	direct := notIP == nil || rt.Replaces != nil
	orbit, err := c.moveTo(ctx, rt.Target, c.u.Pool(), direct, referredBy, "parked", extra...)
	if err != nil {
		code, reason := 503, "Service Unavailable"
		if se, ok := err.(*StatusError); ok {
			code, reason = se.Code, se.Reason
		}
		c.u.m.log.Info("ua: following REFER failed", "call", c.id, calltrace.Attr, c.trace, "target", rt.Target.String(), "error", err)
		notify(code, reason, "", true)
		return
	}
	notify(200, "OK", orbit, true)
	bctx, bcancel := context.WithTimeout(bg, c.u.m.cfg.RequestTimeout)
	defer bcancel()
	_ = old.bye(bctx, "transferred")
}

func aorString(u *User) string {
	a := u.AOR()
	return a.String()
}

// moveTo INVITEs target on the call's behalf with the call's MediaLeg — through pool's
// proxy unless direct — with Referred-By (RFC 3892) and extra headers, and once
// answered moves the call onto the new dialog (only SetRemote changes, so the browser
// renegotiates nothing) and publishes it active: with reason "transferred", or
// parkedReason and the orbit when the far end is a park service (its answer names the
// orbit), which it returns. The old dialog is left to the caller.
func (c *Call) moveTo(ctx context.Context, target sip.Uri, pool Pool, direct bool, referredBy, parkedReason string, extra ...sip.Header) (string, error) {
	c.mu.Lock()
	leg := c.leg
	pt := PayloadPCMU
	if len(c.local.Payloads) > 0 {
		pt = c.local.Payloads[0]
	}
	c.mu.Unlock()
	local := newLocal(leg)
	local.Payloads = []uint8{pt} // the browser's law is fixed for the call's life

	req := c.u.newRequest(sip.INVITE, target, pool)
	if direct {
		req.RemoveHeader("Route")
		req.SetTransport("UDP") // contacts are reached over UDP, even with the pool over TLS
	}
	if referredBy != "" {
		req.AppendHeader(sip.NewHeader("Referred-By", referredBy))
	}
	calltrace.Set(req, c.trace)
	for _, h := range extra {
		req.AppendHeader(h)
	}
	req.AppendHeader(sip.NewHeader("Supported", "replaces"))
	req.AppendHeader(sip.NewHeader("Allow", allow))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(local.Marshal())
	if req.Transport() == "UDP" {
		req.Laddr = c.u.m.laddr()
	}

	var orbit string
	_, err := c.invite(ctx, req, func(d *dialog, r audiosdp.Description) error {
		orbit = headerValue(d.cs.InviteResponse, parkwire.OrbitHeader)
		c.mu.Lock()
		c.local = local
		c.remote = audiosdp.Description{} // a new far end: always SetRemote
		c.holding = false
		c.mu.Unlock()
		c.adopt(d)
		if err := c.applyRemote(r, true); err != nil {
			return err
		}
		reason := "transferred"
		c.mu.Lock()
		if orbit != "" {
			reason = parkedReason
			c.parkedPool, c.parkedAt = pool.Name, orbit
			c.parkedBy, c.parkedSince = referredBy, parkedSince(d.cs.InviteResponse)
		}
		c.state = signaling.CallActive
		c.mu.Unlock()
		c.u.publish(Event{Call: c, State: signaling.CallActive, Reason: reason, Orbit: orbit})
		return nil
	})
	return orbit, err
}
