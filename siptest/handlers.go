package siptest

import (
	"context"
	"errors"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/sip/audiosdp"
	"github.com/parkway/parkway/sip/transfer"
)

func respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string) {
	_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
}

func hasToTag(req *sip.Request) bool {
	to := req.To()
	return to != nil && to.Params.Has("tag")
}

func (p *Phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if hasToTag(req) {
		p.onReinvite(req, tx)
		return
	}
	offer, err := audiosdp.Parse(req.Body())
	if err != nil {
		respond(req, tx, 488, "Not Acceptable Here")
		return
	}
	var replaces *transfer.Replaces
	if v := headerValue(req, "Replaces"); v != "" {
		if p.opt.NoReplaces { // RFC 3261 §8.2.2.3
			_ = tx.Respond(func() *sip.Response {
				res := sip.NewResponseFromRequest(req, 420, "Bad Extension", nil)
				res.AppendHeader(sip.NewHeader("Unsupported", "replaces"))
				return res
			}())
			return
		}
		r, err := transfer.ParseReplaces(v)
		if err != nil {
			respond(req, tx, 400, "Bad Replaces")
			return
		}
		replaces = &r
	}
	var old *Call
	if replaces != nil {
		// RFC 3891 §3: match Call-ID, our tag (to-tag) and the peer's (from-tag).
		old = p.callByID(replaces.CallID)
		if old == nil || old.ended() || old.res == nil || old.LocalTag() != replaces.ToTag || old.RemoteTag() != replaces.FromTag {
			respond(req, tx, 481, "Call/Transaction Does Not Exist")
			return
		}
	}
	m, err := newMedia(p.opt.ToneHz)
	if err != nil {
		respond(req, tx, 500, "Media Unavailable")
		return
	}
	ss, err := p.dua.ReadInvite(req, tx)
	if err != nil {
		m.close()
		respond(req, tx, 400, "Bad Request")
		return
	}
	c := newCall(p, req.CallID().Value(), m)
	c.ss, c.invite = ss, req
	p.addCall(c)

	if old != nil {
		if err := c.accept(offer); err != nil {
			c.end("answer failed: " + err.Error())
			return
		}
		old.setSuccessor(c)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
			defer cancel()
			_ = old.Hangup(ctx) // RFC 3891 §3: the replaced dialog is ended with BYE
			old.end("replaced")
		}()
		return
	}

	c.decide = make(chan answer)
	c.decided = make(chan error, 1)
	_ = ss.Respond(180, "Ringing", nil)
	select {
	case p.incoming <- c:
	default:
		c.end("incoming queue full")
		_ = ss.Respond(486, "Busy Here", nil)
		return
	}
	select {
	case a := <-c.decide:
		if a.code >= 200 && a.code < 300 {
			err := c.accept(offer)
			if err != nil {
				c.end("answer failed: " + err.Error())
			}
			c.decided <- err
			return
		}
		err := ss.Respond(a.code, a.reason, nil, a.headers...)
		c.end("rejected")
		c.decided <- err
	case <-ss.Context().Done(): // CANCEL or transaction timeout
		c.end("cancelled")
	case <-p.ctx.Done():
	}
}

// allow is the phone's Allow header value (RFC 3261 §20.5).
func (p *Phone) allow() string {
	if p.opt.NoRefer {
		return "INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY, MESSAGE"
	}
	return "INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY, MESSAGE, REFER"
}

// accept answers 200 with our SDP and waits for the ACK.
func (c *Call) accept(offer audiosdp.Description) error {
	pt := offer.Codec()
	res := sip.NewSDPResponseFromRequest(c.ss.InviteRequest, audiosdp.Build(c.media.LocalAddr(), uint64(time.Now().UnixNano())>>1, pt))
	res.AppendHeader(sip.NewHeader("Allow", c.p.allow()))
	c.res = res
	c.media.start(offer, pt)
	if err := c.ss.WriteResponse(res); err != nil {
		return err
	}
	return nil
}

// onReinvite answers a target refresh / session change with the same media:
// the tests never move media mid-call, but peers may refresh sessions.
func (p *Phone) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := p.callByID(req.CallID().Value())
	if c == nil || c.ended() || c.res == nil {
		respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	pt := uint8(c.media.pt.Load())
	res := sip.NewSDPResponseFromRequest(req, audiosdp.Build(c.media.LocalAddr(), 1, pt))
	ct := p.contact()
	res.AppendHeader(&ct)
	_ = tx.Respond(res)
	if d, err := audiosdp.Parse(req.Body()); err == nil {
		c.media.start(d, pt)
	}
}

func (p *Phone) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if c := p.callByID(req.CallID().Value()); c != nil && c.ss != nil {
		_ = c.ss.ReadAck(req, tx)
	}
}

func (p *Phone) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := p.callByID(req.CallID().Value())
	if c == nil {
		respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	if c.cs != nil {
		_ = c.cs.ReadBye(req, tx)
	} else {
		_ = c.ss.ReadBye(req, tx)
	}
	reason := headerValue(req, "Reason")
	if reason == "" {
		reason = "bye"
	}
	c.mu.Lock()
	c.bye = req
	c.mu.Unlock()
	c.end(reason)
}

// onRefer accepts a REFER on a call and follows it (RFC 3515 §2.4).
func (p *Phone) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	if p.opt.NoRefer {
		res := sip.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)
		res.AppendHeader(sip.NewHeader("Allow", p.allow()))
		_ = tx.Respond(res)
		return
	}
	c := p.callByID(req.CallID().Value())
	if c == nil || c.ended() {
		respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	rtv := headerValue(req, "Refer-To")
	rt, err := transfer.ParseReferTo(rtv)
	if err != nil {
		respond(req, tx, 400, "Bad Refer-To")
		return
	}
	respond(req, tx, 202, "Accepted")
	referredBy := headerValue(req, "Referred-By")
	if referredBy == "" {
		referredBy = req.From().Address.String()
		referredBy = "<" + referredBy + ">"
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
		defer cancel()
		c.notifyRefer(ctx, 100, "Trying", false)
		inv := sip.NewRequest(sip.INVITE, rt.Target)
		from := sip.FromHeader{Address: p.aor, Params: sip.NewParams()}
		from.Params.Add("tag", sip.GenerateTagN(12))
		inv.AppendHeader(&from)
		inv.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: rt.Target.Scheme, User: rt.Target.User, Host: rt.Target.Host, Port: rt.Target.Port}})
		ct := p.contact()
		inv.AppendHeader(&ct)
		p.stamp(inv)
		hdrs := []sip.Header{sip.NewHeader("Referred-By", referredBy)}
		if rt.Replaces != nil {
			// The Replaces target is a contact, not an AOR: go straight there
			// so no proxy ends up in the path of the new call.
			hdrs = append(hdrs, sip.NewHeader("Replaces", rt.Replaces.String()))
		} else if p.opt.Proxy != "" {
			inv.SetDestination(p.opt.Proxy)
		}
		n, err := p.invite(ctx, inv, hdrs...)
		code, reason := 200, "OK"
		if err != nil {
			code, reason = 503, "Service Unavailable"
			var re *ResponseError
			if errors.As(err, &re) {
				code, reason = re.Res.StatusCode, re.Res.Reason
			}
		}
		if n != nil {
			c.setSuccessor(n)
		}
		c.notifyRefer(ctx, code, reason, true)
	}()
}

// notifyRefer reports the referred INVITE's progress in the implicit
// subscription the REFER created (RFC 3515 §2.4.4, §2.4.5).
func (c *Call) notifyRefer(ctx context.Context, code int, reason string, final bool) {
	state := "active;expires=60"
	if final {
		state = "terminated;reason=noresource"
	}
	_, _ = c.request(ctx, sip.NOTIFY, transfer.Sipfrag(code, reason),
		sip.NewHeader("Event", "refer"),
		sip.NewHeader("Subscription-State", state),
		sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
}

func (p *Phone) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	id := req.CallID().Value()
	event := headerValue(req, "Event")
	if event == "refer" || len(event) > 6 && event[:6] == "refer;" {
		if c := p.callByID(id); c != nil {
			// Note the outcome before answering: the transferee may send its BYE the
			// moment it has our 200, and Refer must find the outcome when the call ends.
			if code, err := transfer.ParseSipfrag(req.Body()); err == nil {
				select {
				case c.referNotify <- code:
				default:
				}
			}
			respond(req, tx, 200, "OK")
			return
		}
		// Otherwise it reports on an out-of-dialog REFER (ReferOut).
	}
	p.mu.Lock()
	s := p.subs[id]
	p.mu.Unlock()
	if s == nil {
		respond(req, tx, 481, "Subscription Does Not Exist")
		return
	}
	respond(req, tx, 200, "OK")
	s.deliver(req)
}
