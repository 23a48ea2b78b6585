package ua

import (
	"context"
	"fmt"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/sip/audiosdp"
	"github.com/parkway/parkway/sip/calltrace"
)

// Incoming is a call ringing for a user: Answer it with a MediaLeg, or Decline it.
// Its Call is published in state ringing and ends if the caller cancels.
type Incoming struct {
	call  *Call
	offer audiosdp.Description
	// From is the caller's URI, To the URI they called.
	From, To string
}

// Codecs are the G.711 payload types the caller offered, in its order of preference
// (0 PCMU, 8 PCMA). The gateway makes the browser's leg speak the first, so the
// answer needs no transcoding whichever law a SIP phone insists on.
func (in *Incoming) Codecs() []uint8 { return append([]uint8(nil), in.offer.Payloads...) }

// Call is the ringing call (its ID is what the gateway shows).
func (in *Incoming) Call() *Call { return in.call }

// onNewInvite handles an INVITE that starts a dialog: a call for a signed-in user, or,
// with Replaces, a takeover of one of our dialogs (replaces.go).
func (m *Manager) onNewInvite(req *sip.Request, tx sip.ServerTransaction) {
	u := m.User(req.Recipient.User)
	if u == nil || u.ctx.Err() != nil {
		respond(req, tx, 404, "Not Found")
		return
	}
	if v := headerValue(req, "Replaces"); v != "" {
		m.onReplaces(u, req, tx, v)
		return
	}
	if len(req.Body()) == 0 {
		// An offerless INVITE would make us offer in the 200 and read the answer from
		// the ACK (RFC 3264 §5); the pools and phones we serve never do that.
		respond(req, tx, 488, "Offer Required")
		return
	}
	offer, ok := readOffer(req, tx)
	if !ok {
		return
	}
	ss, err := u.dua.ReadInvite(req, tx)
	if err != nil {
		respond(req, tx, 400, "Bad Request")
		return
	}
	c := u.newCall(false, req.From().Address.String(), signaling.CallRinging, calltrace.From(req))
	d := newServerDialog(c, ss)
	in := &Incoming{call: c, offer: offer, From: req.From().Address.String(), To: req.To().Address.String()}
	if !c.exec(func() {
		c.adopt(d)
		_ = ss.Respond(180, "Ringing", nil)
		c.u.publish(Event{Call: c, State: signaling.CallRinging, Incoming: in})
		u.incoming.push(in)
	}) {
		respond(req, tx, 480, "Temporarily Unavailable")
		return
	}
	// sipgo ends the INVITE transaction when this handler returns: stay until the call
	// was answered, declined or cancelled.
	select {
	case <-d.answered:
	case <-c.done:
	}
}

// Answer accepts the call with leg: 200 with our G.711 answer, then waits for the ACK
// (RFC 3261 §13.3.1.4).
func (in *Incoming) Answer(ctx context.Context, leg MediaLeg) (*Call, error) {
	c := in.call
	err := c.do(ctx, func() error {
		c.mu.Lock()
		d, state := c.d, c.state
		c.mu.Unlock()
		if state != signaling.CallRinging || d == nil || d.ss == nil {
			return fmt.Errorf("ua: answer: call is %s", state)
		}
		pt, ok := pickCodec(in.offer.Payloads, legCodecs(leg))
		if !ok {
			// RFC 3264 §6: nothing in the offer we can carry without transcoding.
			_ = d.ss.Respond(488, "Not Acceptable Here", nil)
			d.answer()
			c.cancel(&endCause{"no common codec"})
			return fmt.Errorf("ua: answer: %w", ErrNoCodec)
		}
		in.offer.Payloads = append([]uint8{pt}, in.offer.Payloads...)
		c.mu.Lock()
		c.leg = leg
		c.local = newLocal(leg)
		c.local.Payloads = []uint8{pt}
		c.local.Events = in.offer.Events // same dynamic type as offered (RFC 3264 §6.1)
		c.local.Dir = in.offer.Dir.Answer(true, true)
		local := c.local
		c.mu.Unlock()
		if err := c.applyRemote(in.offer, false); err != nil {
			_ = d.ss.Respond(500, "Media Unavailable", nil)
			d.answer()
			c.cancel(&endCause{"media failed"})
			return err
		}
		res := sip.NewSDPResponseFromRequest(d.ss.InviteRequest, local.Marshal())
		res.AppendHeader(sip.NewHeader("Allow", allow))
		res.AppendHeader(sip.NewHeader("Supported", "replaces"))
		err := d.ss.WriteResponse(res)
		d.answer()
		if err != nil && d.byeReceived.Load() {
			// The caller hung up at once and its BYE overtook its ACK: the call was
			// answered; the dialog watcher ends it with the caller's reason.
			err = nil
		}
		if err != nil {
			c.cancel(&endCause{"answer failed"})
			return fmt.Errorf("ua: answer: %w", err)
		}
		c.setState(signaling.CallActive, "")
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Decline refuses the call with code: 486 Busy Here (busy on another call) or 603
// Decline (the user said no); other 4xx–6xx codes are sent as given.
func (in *Incoming) Decline(ctx context.Context, code int) error {
	if code < 400 || code > 699 {
		code = 603
	}
	c := in.call
	err := c.do(ctx, func() error {
		c.mu.Lock()
		d, state := c.d, c.state
		c.mu.Unlock()
		if state != signaling.CallRinging || d == nil || d.ss == nil {
			return fmt.Errorf("ua: decline: call is %s", state)
		}
		err := d.ss.Respond(code, statusText(code), nil)
		d.answer()
		reason := "declined"
		if code == 486 || code == 600 {
			reason = "busy"
		}
		c.cancel(&endCause{reason})
		return err
	})
	if err != nil {
		return err
	}
	select {
	case <-c.done:
	case <-ctx.Done():
	}
	return nil
}

func respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string, headers ...sip.Header) {
	if tx == nil || req.IsAck() {
		return
	}
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range headers {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}
