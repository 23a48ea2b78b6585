package ua

import (
	"context"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/sip/audiosdp"
	"github.com/parkway/parkway/sip/transfer"
)

// onReplaces accepts an INVITE with Replaces (RFC 3891 §3) for one of u's calls: the
// retrieve of a call this user parked-and-dialled, the far end of an attended transfer
// arriving, or a park service handing over a parked party. The new dialog takes the
// old one's place under the same Call and MediaLeg; the old dialog ends with BYE.
func (m *Manager) onReplaces(u *User, req *sip.Request, tx sip.ServerTransaction, v string) {
	rp, err := transfer.ParseReplaces(v)
	if err != nil {
		respond(req, tx, 400, "Bad Replaces")
		return
	}
	old := m.dialogByReplaces(rp.CallID, rp.ToTag, rp.FromTag)
	if old == nil || old.ended() || old.call.u != u {
		respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	c := old.call
	if rp.EarlyOnly && c.State() != signaling.CallDialing && c.State() != signaling.CallRinging {
		respond(req, tx, 486, "Busy Here") // RFC 3891 §3: early-only on a confirmed dialog
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
	ok = c.exec(func() {
		c.mu.Lock()
		current, leg, state := c.d == old, c.leg, c.state
		pt := keepLaw(offer, c.local.Payloads)
		c.mu.Unlock()
		if !current || leg == nil || (state != signaling.CallActive && state != signaling.CallHeld) {
			_ = ss.Respond(481, "Call/Transaction Does Not Exist", nil)
			return
		}
		local := newLocal(leg)
		local.Payloads = []uint8{pt}
		local.Events = offer.Events
		local.Dir = offer.Dir.Answer(true, true)
		d := newServerDialog(c, ss)
		c.mu.Lock()
		c.local = local
		c.remote = audiosdp.Description{} // a new far end: always SetRemote
		c.holding = false
		c.mu.Unlock()
		offer.Payloads = append([]uint8{pt}, offer.Payloads...)
		c.adopt(d)
		if err := c.applyRemote(offer, false); err != nil {
			_ = ss.Respond(488, "Not Acceptable Here", nil)
			c.cancel(&endCause{"media failed"})
			return
		}
		res := sip.NewSDPResponseFromRequest(ss.InviteRequest, local.Marshal())
		res.AppendHeader(sip.NewHeader("Allow", allow))
		if err := ss.WriteResponse(res); err != nil {
			c.cancel(&endCause{"replacing failed"})
			return
		}
		c.mu.Lock()
		c.state = signaling.CallActive
		c.mu.Unlock()
		c.u.publish(Event{Call: c, State: signaling.CallActive, Reason: "replaced"})
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), m.cfg.RequestTimeout)
			defer cancel()
			_ = old.bye(ctx, "replaced") // RFC 3891 §3: the replaced dialog ends
		}()
	})
	if !ok {
		respond(req, tx, 481, "Call/Transaction Does Not Exist")
	}
}
