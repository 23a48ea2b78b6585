package ua

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/sip/calltrace"
)

// dialog is one INVITE dialog of a call (RFC 3261 §12), either side: sipgo's client or
// server session plus what we track on top — the remote target, which a re-INVITE may
// refresh (§12.2.2), and the NOTIFYs that report REFERs we sent in it (RFC 3515).
// A Call has one current dialog; REFER and Replaces swap it for a new one.
type dialog struct {
	m      *Manager
	call   *Call
	callID string
	cs     *sipgo.DialogClientSession // we sent the INVITE
	ss     *sipgo.DialogServerSession // we received it

	referResults chan referResult // sipfrag reports of REFERs we sent here
	acks         chan uint32      // CSeqs of ACKs received for our 2xx to re-INVITEs
	answered     chan struct{}    // closed once our final answer to the INVITE is out
	answerOnce   sync.Once

	byeReceived atomic.Bool // the far end sent BYE (it may overtake its own ACK)

	mu      sync.Mutex
	target  sip.Uri
	byeText string // why the far end hung up (Reason header, RFC 3326)
}

func newClientDialog(c *Call, cs *sipgo.DialogClientSession) *dialog {
	d := &dialog{m: c.u.m, call: c, callID: cs.InviteRequest.CallID().Value(), cs: cs,
		referResults: make(chan referResult, 8), acks: make(chan uint32, 4)}
	d.target = cs.InviteRequest.Recipient
	if ct := cs.InviteResponse.Contact(); ct != nil {
		d.target = ct.Address
	}
	return d
}

func newServerDialog(c *Call, ss *sipgo.DialogServerSession) *dialog {
	d := &dialog{m: c.u.m, call: c, callID: ss.InviteRequest.CallID().Value(), ss: ss,
		referResults: make(chan referResult, 8), acks: make(chan uint32, 4), answered: make(chan struct{})}
	if ct := ss.InviteRequest.Contact(); ct != nil {
		d.target = ct.Address
	}
	return d
}

// answer records that our final answer to the INVITE was sent.
func (d *dialog) answer() { d.answerOnce.Do(func() { close(d.answered) }) }

// localTag and remoteTag are the dialog ID's tags from our side.
func (d *dialog) localTag() string {
	var t string
	if d.cs != nil {
		t, _ = d.cs.InviteRequest.From().Params.Get("tag")
	} else {
		t, _ = d.ss.InviteRequest.To().Params.Get("tag") // ReadInvite added ours
	}
	return t
}

func (d *dialog) remoteTag() string {
	var t string
	if d.cs != nil {
		if d.cs.InviteResponse != nil {
			t, _ = d.cs.InviteResponse.To().Params.Get("tag")
		}
	} else {
		t, _ = d.ss.InviteRequest.From().Params.Get("tag")
	}
	return t
}

// context ends when sipgo sees the dialog end (BYE either way, or an INVITE
// transaction that died before an answer, e.g. CANCEL).
func (d *dialog) context() context.Context {
	if d.cs != nil {
		return d.cs.Context()
	}
	return d.ss.Context()
}

func (d *dialog) ended() bool { return d.context().Err() != nil }

func (d *dialog) remoteTarget() sip.Uri {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.target
}

// refreshTarget applies a target refresh: a re-INVITE's Contact (RFC 3261 §12.2.2).
func (d *dialog) refreshTarget(req *sip.Request) {
	if ct := req.Contact(); ct != nil && !ct.Address.Wildcard {
		d.mu.Lock()
		d.target = ct.Address
		d.mu.Unlock()
	}
}

// remoteURI is the far end's address of record as the dialog names it.
func (d *dialog) remoteURI() sip.Uri {
	if d.cs != nil {
		return d.cs.InviteRequest.To().Address
	}
	return d.ss.InviteRequest.From().Address
}

// newRequest builds an in-dialog request to the remote target; sipgo fills From, To,
// Call-ID and CSeq from the dialog (§12.2.1.1).
func (d *dialog) newRequest(method sip.RequestMethod) *sip.Request {
	req := sip.NewRequest(method, d.remoteTarget())
	req.Laddr = d.m.laddr()
	calltrace.Set(req, d.call.trace)
	return req
}

// do sends an in-dialog request and waits for its final response.
func (d *dialog) do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	if d.cs != nil {
		return d.cs.Do(ctx, req)
	}
	return d.ss.Do(ctx, req)
}

// write sends a request outside any transaction: the ACK for a 2xx to a re-INVITE.
func (d *dialog) write(req *sip.Request) error {
	if d.cs != nil {
		return d.cs.WriteRequest(req)
	}
	return d.ss.WriteRequest(req)
}

// request sends an in-dialog request with body and headers; a non-2xx is a
// *StatusError.
func (d *dialog) request(ctx context.Context, method sip.RequestMethod, body []byte, headers ...sip.Header) (*sip.Response, error) {
	req := d.newRequest(method)
	for _, h := range headers {
		req.AppendHeader(h)
	}
	if body != nil {
		req.SetBody(body)
	}
	res, err := d.do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	if !res.IsSuccess() {
		return res, &StatusError{Method: string(method), Code: res.StatusCode, Reason: res.Reason}
	}
	return res, nil
}

// bye ends the dialog (RFC 3261 §15.1.1), saying why in a Reason header (RFC 3326).
func (d *dialog) bye(ctx context.Context, reason string) error {
	if d.ended() {
		return nil
	}
	req := d.newRequest(sip.BYE)
	if reason != "" {
		req.AppendHeader(sip.NewHeader("Reason", `SIP;cause=200;text="`+strings.ReplaceAll(reason, `"`, `'`)+`"`))
	}
	var err error
	if d.cs != nil {
		err = d.cs.WriteBye(ctx, req)
	} else {
		err = d.ss.WriteBye(ctx, req)
	}
	return err
}

// readBye answers the far end's BYE and remembers its Reason.
func (d *dialog) readBye(req *sip.Request, tx sip.ServerTransaction) {
	text := reasonText(headerValue(req, "Reason"))
	d.byeReceived.Store(true)
	d.mu.Lock()
	d.byeText = text
	d.mu.Unlock()
	if d.cs != nil {
		_ = d.cs.ReadBye(req, tx)
	} else if err := d.ss.ReadBye(req, tx); err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
	}
}

func (d *dialog) hangupText() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.byeText
}

// reasonText picks the text of a Reason header (RFC 3326 §2), e.g.
// `SIP;cause=408;text="Park time expired"` → "Park time expired".
func reasonText(v string) string {
	if v == "" {
		return ""
	}
	_, t, ok := strings.Cut(v, `text="`)
	if !ok {
		return v
	}
	t, _, _ = strings.Cut(t, `"`)
	return t
}
