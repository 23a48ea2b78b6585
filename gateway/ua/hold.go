package ua

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/sip/audiosdp"
	"github.com/parkway/parkway/sip/calltrace"
)

// Hold puts the call on hold: a re-INVITE offering a=sendonly (RFC 3264 §8.4), or
// a=inactive when the far end already holds us. The leg stops receiving.
func (c *Call) Hold(ctx context.Context) error { return c.setHold(ctx, true) }

// Resume takes the call off hold: a re-INVITE offering a=sendrecv.
func (c *Call) Resume(ctx context.Context) error { return c.setHold(ctx, false) }

func (c *Call) setHold(ctx context.Context, hold bool) error {
	return c.do(ctx, func() error {
		c.mu.Lock()
		state := c.state
		c.mu.Unlock()
		if state != signaling.CallActive && state != signaling.CallHeld {
			return fmt.Errorf("ua: hold: %w (%s)", ErrNotActive, state)
		}
		if err := c.reinvite(ctx, hold); err != nil {
			return fmt.Errorf("ua: hold: %w", err)
		}
		if hold {
			c.setState(signaling.CallHeld, "")
		} else {
			c.setState(signaling.CallActive, "")
		}
		return nil
	})
}

// reinvite sends a re-INVITE with our session at the direction hold asks for, and
// applies the answer; on the loop. A 491 (glare: both sides re-INVITEd at once) is
// retried once after a random 2.1–4 s (RFC 3261 §14.1).
func (c *Call) reinvite(ctx context.Context, hold bool) error {
	c.mu.Lock()
	d := c.d
	prevHolding, prevLocal := c.holding, c.local
	c.holding = hold
	dir := SendRecv
	if hold {
		dir = SendOnly
		if c.remoteHold {
			dir = Inactive
		}
	} else if c.remoteHold {
		dir = RecvOnly
	}
	c.local.Dir = dir
	c.local.Version++
	local := c.local
	c.mu.Unlock()
	restore := func() {
		c.mu.Lock()
		c.holding, c.local = prevHolding, prevLocal
		c.mu.Unlock()
	}
	if d == nil {
		restore()
		return ErrNotActive
	}
	c.reinviting.Store(true)
	defer c.reinviting.Store(false)
	ctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	var res *sip.Response
	for try := 0; ; try++ {
		req := d.newRequest(sip.INVITE)
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.AppendHeader(sip.NewHeader("Allow", allow))
		req.SetBody(local.Marshal())
		var err error
		res, err = d.do(ctx, req)
		if err != nil {
			restore()
			return fmt.Errorf("re-INVITE: %w", err)
		}
		if res.StatusCode == 491 && try == 0 {
			select {
			case <-time.After(2100*time.Millisecond + rand.N(1900*time.Millisecond)):
				continue
			case <-ctx.Done():
				restore()
				return ctx.Err()
			}
		}
		break
	}
	if !res.IsSuccess() {
		restore()
		return &StatusError{Method: "re-INVITE", Code: res.StatusCode, Reason: res.Reason}
	}
	// The ACK for a 2xx to a re-INVITE carries the INVITE's CSeq (RFC 3261 §13.2.2.4);
	// sipgo's dialog keeps it as the last CSeq and does not count up for ACK.
	ack := d.newRequest(sip.ACK)
	if err := d.write(ack); err != nil {
		c.u.m.log.Debug("ua: ACK re-INVITE failed", "call", c.id, calltrace.Attr, c.trace, "error", err)
	}
	r, err := audiosdp.Parse(res.Body())
	if err != nil {
		return fmt.Errorf("re-INVITE answer: %w", err)
	}
	c.mu.Lock()
	c.local.Dir = dir.And(r.Dir.Answer(true, true))
	c.mu.Unlock()
	// The answer's direction is about the far end; ours is its mirror. remoteHold is
	// about their offers, not their answers, so keep it.
	c.mu.Lock()
	rh := c.remoteHold
	c.mu.Unlock()
	if err := c.applyRemote(r, false); err != nil {
		return err
	}
	c.mu.Lock()
	c.remoteHold = rh
	c.mu.Unlock()
	return nil
}

// onReinvite answers a re-INVITE on one of our dialogs (RFC 3261 §14.2): the far end
// holding or resuming (RFC 3264 §8.4), moving its media, or refreshing the session.
func (m *Manager) onReinvite(d *dialog, req *sip.Request, tx sip.ServerTransaction) {
	c := d.call
	if c.reinviting.Load() {
		respond(req, tx, 491, "Request Pending", sip.NewHeader("Retry-After", "1"))
		return
	}
	if len(req.Body()) == 0 {
		// An offerless re-INVITE wants our offer in the 200 and its answer in the ACK
		// (RFC 3264 §5); we re-offer what we have and keep the media as it is.
		ok := c.exec(func() {
			c.mu.Lock()
			local := c.local
			c.mu.Unlock()
			d.refreshTarget(req)
			res := sip.NewSDPResponseFromRequest(req, local.Marshal())
			ct := c.u.contact
			res.AppendHeader(&ct)
			_ = tx.Respond(res)
			c.retransmit2xx(d, req.CSeq().SeqNo, tx, res)
		})
		if !ok {
			respond(req, tx, 481, "Call/Transaction Does Not Exist")
		}
		return
	}
	offer, ok := readOffer(req, tx)
	if !ok {
		return
	}
	ok = c.exec(func() {
		c.mu.Lock()
		current := c.d == d
		wasHeld := c.remoteHold
		c.local.Dir = offer.Dir.Answer(true, !c.holding)
		c.local.Version++
		pt := keepLaw(offer, c.local.Payloads)
		offer.Payloads = append([]uint8{pt}, offer.Payloads...)
		c.local.Payloads = []uint8{pt}
		c.local.Events = offer.Events
		local := c.local
		c.mu.Unlock()
		if !current {
			respond(req, tx, 481, "Call/Transaction Does Not Exist")
			return
		}
		d.refreshTarget(req)
		if err := c.applyRemote(offer, false); err != nil {
			respond(req, tx, 488, "Not Acceptable Here")
			return
		}
		res := sip.NewSDPResponseFromRequest(req, local.Marshal())
		ct := c.u.contact
		res.AppendHeader(&ct)
		res.AppendHeader(sip.NewHeader("Allow", allow))
		_ = tx.Respond(res)
		c.retransmit2xx(d, req.CSeq().SeqNo, tx, res)
		if held := c.RemoteHold(); held != wasHeld {
			reason := "resumed by the other party"
			if held {
				reason = "held by the other party"
			}
			c.u.publish(Event{Call: c, State: c.State(), Reason: reason})
		} else {
			c.saveDialog(false) // a new target or media address, as another gateway must know it
		}
	})
	if !ok {
		respond(req, tx, 481, "Call/Transaction Does Not Exist")
	}
}

// retransmit2xx resends our 2xx to a re-INVITE until its ACK arrives: over UDP that is
// the UAS core's job, not the transaction's (RFC 3261 §13.3.1.4, RFC 6026 §7.1), at T1
// doubling to T2, for at most 64*T1. On the loop; the goroutine is the call's.
func (c *Call) retransmit2xx(d *dialog, cseq uint32, tx sip.ServerTransaction, res *sip.Response) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		interval := sip.T1
		t := time.NewTimer(interval)
		defer t.Stop()
		giveUp := time.NewTimer(64 * sip.T1)
		defer giveUp.Stop()
		for {
			select {
			case n := <-d.acks:
				if n == cseq {
					return
				}
			case <-t.C:
				_ = tx.Respond(res)
				interval = min(2*interval, sip.T2)
				t.Reset(interval)
			case <-giveUp.C:
				return
			case <-c.ctx.Done():
				return
			}
		}
	}()
}
