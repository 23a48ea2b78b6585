package siptest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/sip/audiosdp"
	"github.com/parkway/parkway/sip/transfer"
)

// Call is one INVITE dialog of a Phone, either side.
type Call struct {
	p      *Phone
	callID string
	cs     *sipgo.DialogClientSession // we sent the INVITE
	ss     *sipgo.DialogServerSession // we received it
	invite *sip.Request
	res    *sip.Response
	media  *Media

	decide  chan answer // incoming only: Answer/Reject hand their choice to the INVITE handler
	decided chan error

	referNotify chan int   // final sipfrag codes of REFERs we sent
	successor   chan *Call // buffered 1

	endOnce sync.Once
	done    chan struct{}
	mu      sync.Mutex
	bye     *sip.Request // BYE that ended the call, if the peer hung up
	reason  string
}

type answer struct {
	code    int
	reason  string
	headers []sip.Header
}

func newCall(p *Phone, callID string, m *Media) *Call {
	return &Call{p: p, callID: callID, media: m, referNotify: make(chan int, 4),
		successor: make(chan *Call, 1), done: make(chan struct{})}
}

// Media is the call's RTP stream.
func (c *Call) Media() *Media { return c.media }

// CallID is the dialog's Call-ID.
func (c *Call) CallID() string { return c.callID }

// Request is the INVITE that created the call (sent or received).
func (c *Call) Request() *sip.Request { return c.invite }

// Response is the 2xx that established the call (sent or received).
func (c *Call) Response() *sip.Response { return c.res }

// Done is closed when the call ends for any reason.
func (c *Call) Done() <-chan struct{} { return c.done }

// Bye is the BYE by which the peer ended the call, nil otherwise.
func (c *Call) Bye() *sip.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bye
}

// EndReason says why the call ended: the Reason header of the peer's BYE,
// "bye" without one, or what ended it locally.
func (c *Call) EndReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

func (c *Call) ended() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *Call) end(reason string) {
	c.endOnce.Do(func() {
		c.mu.Lock()
		c.reason = reason
		c.mu.Unlock()
		close(c.done)
		if c.media != nil {
			c.media.close()
		}
		c.p.removeCall(c)
	})
}

// Successor waits for the call that continues this one: the INVITE this
// phone sent following a REFER received on it, or the INVITE with Replaces
// that took it over.
func (c *Call) Successor(ctx context.Context) (*Call, error) {
	select {
	case n := <-c.successor:
		c.successor <- n // keep it for the next caller
		return n, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("siptest: successor of %s: %w", c.callID, ctx.Err())
	}
}

func (c *Call) setSuccessor(n *Call) {
	select {
	case c.successor <- n:
	default:
	}
}

// Header returns a header of the INVITE's final response for outgoing calls
// or of the INVITE for incoming calls, "" when absent.
func (c *Call) Header(name string) string {
	if c.cs != nil && c.res != nil {
		return headerValue(c.res, name)
	}
	return headerValue(c.invite, name)
}

// RemoteTarget is the peer's Contact URI: where in-dialog requests go.
func (c *Call) RemoteTarget() sip.Uri {
	if c.cs != nil {
		if ct := c.res.Contact(); ct != nil {
			return ct.Address
		}
		return c.invite.Recipient
	}
	if ct := c.invite.Contact(); ct != nil {
		return ct.Address
	}
	return sip.Uri{}
}

// LocalTag and RemoteTag identify the dialog (RFC 3261 §12).
func (c *Call) LocalTag() string {
	if c.cs != nil {
		t, _ := c.invite.From().Params.Get("tag")
		return t
	}
	t, _ := c.res.To().Params.Get("tag")
	return t
}

func (c *Call) RemoteTag() string {
	if c.cs != nil {
		t, _ := c.res.To().Params.Get("tag")
		return t
	}
	t, _ := c.invite.From().Params.Get("tag")
	return t
}

// Replaces identifies this call from the peer's side (RFC 3891 §3: to-tag
// is the peer's own tag), for a Refer-To that asks a third party to take
// the peer over — e.g. to park it with a REFER to the park service.
func (c *Call) Replaces() transfer.Replaces {
	return transfer.Replaces{CallID: c.callID, ToTag: c.RemoteTag(), FromTag: c.LocalTag()}
}

// Call sends an INVITE to target with a G.711 offer and waits for the final
// answer; extra headers are added to the INVITE. A non-2xx answer is a
// *ResponseError.
func (p *Phone) Call(ctx context.Context, target string, headers ...sip.Header) (*Call, error) {
	req, err := p.newRequest(sip.INVITE, target)
	if err != nil {
		return nil, err
	}
	return p.invite(ctx, req, headers...)
}

func (p *Phone) invite(ctx context.Context, req *sip.Request, headers ...sip.Header) (*Call, error) {
	m, err := newMedia(p.opt.ToneHz)
	if err != nil {
		return nil, err
	}
	for _, h := range headers {
		req.AppendHeader(h)
	}
	if !p.opt.NoReplaces {
		req.AppendHeader(sip.NewHeader("Supported", "replaces"))
	}
	req.AppendHeader(sip.NewHeader("Allow", p.allow()))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(m.offer())
	p.stamp(req)
	cs, err := p.dua.WriteInvite(ctx, req)
	if err != nil {
		m.close()
		return nil, fmt.Errorf("siptest: invite %s: %w", req.Recipient.String(), err)
	}
	c := newCall(p, req.CallID().Value(), m)
	c.cs, c.invite = cs, req
	p.addCall(c)
	err = cs.WaitAnswer(ctx, sipgo.AnswerOptions{Username: p.opt.User, Password: p.opt.Password})
	if err != nil {
		c.end("not answered")
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			return nil, &ResponseError{Res: de.Res}
		}
		return nil, fmt.Errorf("siptest: invite %s: %w", req.Recipient.String(), err)
	}
	// The answer's media is applied before the ACK goes: a peer may re-INVITE us the
	// moment it has the ACK (the park service bridging a retriever does), and starting
	// the media after that would point it back at the answer's address, undoing the
	// re-INVITE's — the peer then heard nothing from us (TestParkedPartyWithoutReferIsBridged
	// and TestParkedByReferWithoutReferIsBridged under load).
	d, sdpErr := audiosdp.Parse(cs.InviteResponse.Body())
	if sdpErr == nil {
		m.start(d, d.Codec())
	}
	c.res = cs.InviteResponse
	if err := cs.Ack(ctx); err != nil {
		c.end("ack failed")
		return nil, fmt.Errorf("siptest: ack: %w", err)
	}
	if sdpErr != nil {
		_ = c.Hangup(ctx)
		return nil, fmt.Errorf("siptest: answer sdp: %w", sdpErr)
	}
	return c, nil
}

// Answer accepts an incoming call with a G.711 answer and waits for the ACK.
func (c *Call) Answer(ctx context.Context) error {
	return c.respond(ctx, answer{code: 200})
}

// Reject answers an incoming call with a final non-2xx response.
func (c *Call) Reject(ctx context.Context, code int, reason string, headers ...sip.Header) error {
	return c.respond(ctx, answer{code: code, reason: reason, headers: headers})
}

func (c *Call) respond(ctx context.Context, a answer) error {
	if c.decide == nil {
		return errors.New("siptest: not an incoming call")
	}
	select {
	case c.decide <- a:
	case <-c.done:
		return fmt.Errorf("siptest: call ended before answer: %s", c.EndReason())
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-c.decided:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Hangup ends the call with BYE (RFC 3261 §15.1.1).
func (c *Call) Hangup(ctx context.Context) error {
	if c.ended() {
		return nil
	}
	bye := sip.NewRequest(sip.BYE, c.RemoteTarget())
	c.p.stamp(bye)
	var err error
	if c.cs != nil {
		err = c.cs.WriteBye(ctx, bye)
	} else {
		err = c.ss.WriteBye(ctx, bye)
	}
	c.end("local hangup")
	if err != nil {
		return fmt.Errorf("siptest: bye: %w", err)
	}
	return nil
}

// request sends an in-dialog request and waits for its final response.
func (c *Call) request(ctx context.Context, method sip.RequestMethod, body []byte, headers ...sip.Header) (*sip.Response, error) {
	req := sip.NewRequest(method, c.RemoteTarget())
	c.p.stamp(req)
	for _, h := range headers {
		req.AppendHeader(h)
	}
	if body != nil {
		req.SetBody(body)
	}
	var res *sip.Response
	var err error
	if c.cs != nil {
		res, err = c.cs.Do(ctx, req)
	} else {
		res, err = c.ss.Do(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	if !res.IsSuccess() {
		return res, &ResponseError{Res: res}
	}
	return res, nil
}

// Refer blind-transfers the peer to target (RFC 3515): it sends REFER, and
// waits for the NOTIFY carrying the final status of the peer's INVITE, which
// it returns. The call stays up; hang it up when the transfer succeeded.
func (c *Call) Refer(ctx context.Context, target string) (int, error) {
	return c.ReferTo(ctx, "<"+target+">")
}

// ReferTo is Refer with a raw Refer-To value (e.g. with embedded Replaces).
func (c *Call) ReferTo(ctx context.Context, referTo string) (int, error) {
	rb := sip.NewHeader("Referred-By", "<"+c.p.aor.String()+">")
	if _, err := c.request(ctx, sip.REFER, nil, sip.NewHeader("Refer-To", referTo), rb); err != nil {
		return 0, fmt.Errorf("siptest: refer: %w", err)
	}
	for {
		select {
		case code := <-c.referNotify:
			if code >= 200 {
				return code, nil
			}
		case <-c.done:
			// The final NOTIFY and the BYE behind it can both be ready: select picks
			// either, so take an outcome already noted before calling the transfer lost.
			for {
				select {
				case code := <-c.referNotify:
					if code >= 200 {
						return code, nil
					}
					continue
				default:
				}
				return 0, errors.New("siptest: call ended during transfer")
			}
		case <-ctx.Done():
			return 0, fmt.Errorf("siptest: waiting for transfer result: %w", ctx.Err())
		}
	}
}

// Reinvite refreshes the session with a re-INVITE carrying the same offer
// (RFC 3261 §14.1), follows the answer's address, and ACKs it.
func (c *Call) Reinvite(ctx context.Context) error {
	req := sip.NewRequest(sip.INVITE, c.RemoteTarget())
	c.p.stamp(req)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(c.media.offer())
	var res *sip.Response
	var err error
	if c.cs != nil {
		res, err = c.cs.Do(ctx, req)
	} else {
		res, err = c.ss.Do(ctx, req)
	}
	if err != nil {
		return fmt.Errorf("siptest: re-INVITE: %w", err)
	}
	if !res.IsSuccess() {
		return &ResponseError{Res: res}
	}
	// the answer applied before the ACK, as in invite: a re-INVITE the peer sends once
	// it has the ACK must not be undone by this one's
	d, sdpErr := audiosdp.Parse(res.Body())
	if sdpErr == nil {
		c.media.start(d, uint8(c.media.pt.Load()))
	}
	ack := sip.NewRequest(sip.ACK, c.RemoteTarget())
	c.p.stamp(ack)
	if c.cs != nil {
		err = c.cs.WriteRequest(ack)
	} else {
		err = c.ss.WriteRequest(ack)
	}
	if err != nil {
		return fmt.Errorf("siptest: ACK re-INVITE: %w", err)
	}
	if sdpErr != nil {
		return fmt.Errorf("siptest: re-INVITE answer: %w", sdpErr)
	}
	return nil
}
