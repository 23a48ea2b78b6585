package ua

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/sip/audiosdp"
	"github.com/parkway/parkway/sip/calltrace"
)

// allow lists the methods a user agent here accepts (RFC 3261 §20.5); REFER tells
// peers (the park service among them) that we can be transferred.
const allow = "INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY, MESSAGE"

// targetURI turns what a user typed — a user name, a number, an orbit, or a full
// sip: URI — into a Request-URI in the pool's domain.
func targetURI(target string, pool Pool) (sip.Uri, error) {
	target = strings.TrimSpace(target)
	if target == "" {
		return sip.Uri{}, errors.New("empty target")
	}
	if strings.HasPrefix(target, "sip:") || strings.HasPrefix(target, "sips:") {
		var u sip.Uri
		if err := sip.ParseUri(target, &u); err != nil {
			return sip.Uri{}, fmt.Errorf("target %q: %w", target, err)
		}
		return u, nil
	}
	if strings.ContainsAny(target, "@<> \t;?:") {
		return sip.Uri{}, fmt.Errorf("target %q: not a user name, number or sip: URI", target)
	}
	return sip.Uri{Scheme: "sip", User: target, Host: pool.domain()}, nil
}

// Dial calls target (a user name, a number such as an orbit, or a sip: URI) through
// the pool the user is registered with, offering G.711 on leg. It returns once the call
// is answered; a non-2xx answer is a *StatusError (errors.Is(err, ErrNotFound) for 404).
// A digest challenge (401/407) is answered with the user's credentials. While it
// dials, the call is published in state dialing and Hangup cancels it (RFC 3261 §9.1).
func (u *User) Dial(ctx context.Context, target string, leg MediaLeg) (*Call, error) {
	if u.ctx.Err() != nil {
		return nil, ErrSignedOut
	}
	pool := u.Pool()
	uri, err := targetURI(target, pool)
	if err != nil {
		return nil, fmt.Errorf("ua: dial: %w", err)
	}
	c := u.newCall(true, uri.String(), signaling.CallDialing, "")
	c.leg = leg
	c.local = newLocal(leg)
	c.u.publish(Event{Call: c, State: signaling.CallDialing})

	req := u.newRequest(sip.INVITE, uri, pool)
	req.AppendHeader(sip.NewHeader("Supported", "replaces"))
	req.AppendHeader(sip.NewHeader("Allow", allow))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(c.local.Marshal())
	if !pool.tls() {
		req.Laddr = u.m.laddr()
	}
	calltrace.Set(req, c.trace)
	if _, err := c.invite(ctx, req, nil); err != nil {
		reason := "failed"
		var se *StatusError
		if errors.As(err, &se) {
			reason = strings.ToLower(se.Reason)
			if k := se.kind(); k != nil {
				reason = k.Error()
			}
		} else if c.ctx.Err() != nil {
			reason = ""
		}
		if reason != "" {
			c.cancel(&endCause{reason})
		}
		<-c.done
		return nil, fmt.Errorf("ua: dial %s: %w", target, err)
	}
	return c, nil
}

// invite sends req (an INVITE with our offer), waits for the answer, ACKs it, points
// the leg at the far end and makes the new dialog the call's current one — all but the
// wait on the call's loop. With onAnswered non-nil, that runs on the loop instead of
// the usual "active" publication (REFER and Replaces use it to swap dialogs).
func (c *Call) invite(ctx context.Context, req *sip.Request, onAnswered func(d *dialog, r audiosdp.Description) error) (*dialog, error) {
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel) // Hangup while dialing sends CANCEL
	defer stop()
	ringing := false
	var cs *sipgo.DialogClientSession
	for tries := 0; ; tries++ {
		var err error
		cs, err = c.u.duaFor(req).WriteInvite(ictx, req)
		if err != nil {
			return nil, fmt.Errorf("INVITE: %w", err)
		}
		err = cs.WaitAnswer(ictx, sipgo.AnswerOptions{
			OnResponse: func(res *sip.Response) error {
				// The far end rings (180/183): the softphone can play ring-back. Only for a
				// call being dialled; a REFER being followed is not the user's doing.
				if onAnswered == nil && !ringing && (res.StatusCode == 180 || res.StatusCode == 183) {
					ringing = true
					c.u.publish(Event{Call: c, State: signaling.CallDialing, Reason: "ringing"})
				}
				return nil
			}})
		if err == nil {
			if req.Transport() == "TLS" {
				// Only the INVITE went to the pool over TLS: nothing Record-Routes, so
				// the dialog (ACK, BYE, re-INVITE, REFER) runs between the parties,
				// from our UDP listener to their UDP Contact. sipgo sends a dialog's
				// requests with its INVITE's transport and local address.
				cs.InviteRequest.SetTransport("UDP")
				cs.InviteRequest.Laddr = c.u.m.laddr()
			}
			break
		}
		var de *sipgo.ErrDialogResponse
		if !errors.As(err, &de) {
			return nil, fmt.Errorf("INVITE: %w", err)
		}
		code := de.Res.StatusCode
		if (code != 401 && code != 407) || tries == 2 {
			return nil, &StatusError{Method: "INVITE", Code: code, Reason: de.Res.Reason}
		}
		// A digest challenge (RFC 3261 §22.2; once more for a stale nonce): the same
		// INVITE with credentials, as a new transaction (CSeq + 1, a new branch).
		if _, err := authorize(req, de.Res, c.u.name, c.u.secret); err != nil {
			return nil, fmt.Errorf("INVITE: %w", err)
		}
		req.CSeq().SeqNo++
		req.RemoveHeader("Via")
	}
	d := newClientDialog(c, cs)
	r, perr := audiosdp.Parse(cs.InviteResponse.Body())
	acked := false
	ack := func() error {
		acked = true
		if err := cs.Ack(ictx); err != nil {
			return fmt.Errorf("ACK: %w", err)
		}
		return nil
	}
	err := c.do(context.WithoutCancel(ctx), func() error {
		if perr != nil {
			return perr
		}
		// The dialog becomes the call's before the ACK leaves: the far end may act on
		// it at once (the park service REFERs the parked party to us right after our
		// ACK, and its INVITE with Replaces must find this dialog).
		defer func() {
			if !acked {
				_ = ack()
			}
		}()
		if onAnswered != nil {
			return onAnswered(d, r)
		}
		c.adopt(d)
		if err := c.applyRemote(r, true); err != nil {
			return err
		}
		c.setState(signaling.CallActive, "")
		return nil
	})
	if err != nil {
		// Answered but unusable, or the call ended meanwhile: say goodbye to this
		// dialog (RFC 3264 §6: an answer we cannot use ends the session).
		if !acked {
			_ = ack()
		}
		_ = d.bye(context.WithoutCancel(ctx), "")
		return nil, err
	}
	return d, nil
}

// applyRemote takes the far end's SDP (an answer to our offer when isAnswer, else an
// offer we answer) and points the leg at it; on the loop.
func (c *Call) applyRemote(r audiosdp.Description, isAnswer bool) error {
	c.mu.Lock()
	prev := c.remote
	pt := r.Codec()
	if isAnswer {
		// The answer's first type is what both sides send (RFC 3264 §6.1).
		c.local.Payloads = []uint8{pt}
		c.local.Events = r.Events
		c.local.Dir = c.local.Dir.And(r.Dir.Answer(true, true))
	}
	c.remote = r
	c.remoteHold = r.Dir == SendOnly || r.Dir == Inactive
	dir := c.local.Dir
	leg := c.leg
	c.mu.Unlock()
	if leg == nil {
		return nil
	}
	// The event type first: a bridge may take it with the next SetRemote.
	if es, ok := leg.(EventPayloadSetter); ok && prev.Events != r.Events {
		es.SetEventPayloadType(r.Events)
	}
	if prev.Addr != r.Addr || len(prev.Payloads) == 0 || prev.Codec() != pt {
		if err := leg.SetRemote(r.Addr, pt); err != nil {
			return fmt.Errorf("media: %w", err)
		}
	}
	leg.SetDirection(dir)
	return nil
}
