package park

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/sip/audiosdp"
	"github.com/parkway/parkway/sip/calltrace"
)

var errRingTimeout = errors.New("ring timeout")

// sdpRules is how the park service reads the SDP of offers and answers: a
// stream with port 0 is still parked (or rung back), it just hears nothing.
var sdpRules = audiosdp.Rules{AcceptPortZero: true}

// leg is one INVITE dialog the park service is in: with a parked party
// (park is UAS), a retriever (UAS) or a ring-back target (UAC). It owns the
// dialog's RTP stream.
type leg struct {
	r      *run
	callID string
	ss     *sipgo.DialogServerSession
	cs     *sipgo.DialogClientSession
	invite *sip.Request // as held by the dialog session (with our tag for UAS)
	res    *sip.Response
	media  *stream
	pt     uint8
	trace  string // the trace id every request on this leg carries (package calltrace)

	referResult chan int // final sipfrag codes of a REFER we sent on this leg
	// peerSDP is set on bridged legs (bridge.go): the SDP this leg's peer
	// was given, i.e. the other party's. Guarded by Service.mu.
	peerSDP []byte

	endOnce sync.Once
	gone    chan struct{} // closed when the dialog is over (BYE either way, or Stop)
}

func (r *run) newLeg(callID string, media *stream) *leg {
	l := &leg{r: r, callID: callID, media: media, referResult: make(chan int, 4), gone: make(chan struct{})}
	r.s.mu.Lock()
	r.legs[callID] = l
	r.s.mu.Unlock()
	return l
}

func (r *run) legByID(id string) *leg {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.legs[id]
}

// end forgets the dialog and closes its media, without signalling: used
// after a BYE either way and by Stop.
func (l *leg) end() {
	l.endOnce.Do(func() {
		close(l.gone)
		l.media.close()
		l.r.s.mu.Lock()
		if l.r.legs[l.callID] == l {
			delete(l.r.legs, l.callID)
		}
		l.r.s.mu.Unlock()
	})
}

func (l *leg) ended() bool {
	select {
	case <-l.gone:
		return true
	default:
		return false
	}
}

func (l *leg) remoteTarget() sip.Uri {
	if l.cs != nil {
		if ct := l.res.Contact(); ct != nil {
			return ct.Address
		}
		return l.invite.Recipient
	}
	return l.invite.Contact().Address
}

func (l *leg) localTag() string {
	if l.cs != nil {
		t, _ := l.invite.From().Params.Get("tag")
		return t
	}
	t, _ := l.invite.To().Params.Get("tag")
	return t
}

func (l *leg) remoteTag() string {
	if l.cs != nil {
		t, _ := l.res.To().Params.Get("tag")
		return t
	}
	t, _ := l.invite.From().Params.Get("tag")
	return t
}

// remoteIdentity is the peer's URI as the dialog knows it.
func (l *leg) remoteIdentity() string {
	if l.cs != nil {
		return l.invite.To().Address.String()
	}
	return l.invite.From().Address.String()
}

// request sends an in-dialog request and waits for its final response.
func (l *leg) request(ctx context.Context, method sip.RequestMethod, body []byte, hdrs ...sip.Header) (*sip.Response, error) {
	req := sip.NewRequest(method, l.remoteTarget())
	req.SetTransport(l.invite.Transport())
	l.r.stamp(req)
	calltrace.Set(req, l.trace)
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	if body != nil {
		req.SetBody(body)
	}
	if l.cs != nil {
		return l.cs.Do(ctx, req)
	}
	return l.ss.Do(ctx, req)
}

// request2 sends a prepared in-dialog request and waits for its final
// response.
func (l *leg) request2(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	if l.cs != nil {
		return l.cs.Do(ctx, req)
	}
	return l.ss.Do(ctx, req)
}

// hangup sends BYE with an RFC 3326 Reason (and ms-diagnostics) and ends
// the leg whatever the answer.
func (l *leg) hangup(ctx context.Context, why *Error) {
	if l.ended() {
		return
	}
	bye := sip.NewRequest(sip.BYE, l.remoteTarget())
	bye.SetTransport(l.invite.Transport())
	l.r.stamp(bye)
	if why != nil {
		bye.AppendHeader(why.reasonHeader())
		for _, h := range why.headers(l.r.s.opt.Name) {
			bye.AppendHeader(h)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var err error
	if l.cs != nil {
		err = l.cs.WriteBye(ctx, bye)
	} else {
		err = l.ss.WriteBye(ctx, bye)
	}
	if err != nil {
		l.r.s.log.Debug("bye failed", "call-id", l.callID, "err", err)
	}
	l.end()
}

// answer sends 200 with our SDP for an incoming leg and waits for the ACK
// (RFC 3261 §13.3.1.4). extra headers go on the 200.
func (l *leg) answer(offer audiosdp.Description, extra ...sip.Header) error {
	l.pt = offer.Codec()
	body := audiosdp.Build(l.media.localAddr(), rand.Uint64()>>1, l.pt)
	res := sip.NewSDPResponseFromRequest(l.ss.InviteRequest, body)
	for _, h := range extra {
		res.AppendHeader(h)
	}
	l.res = res
	if err := l.ss.WriteResponse(res); err != nil {
		return err
	}
	return nil
}

// dial calls target as UAC with an SDP offer and waits until it answers,
// fails, rings for longer than ring, or ctx ends. The From names the orbit
// so the parker's phone shows which parked call is ringing back.
//
// Giving up sends CANCEL only once a provisional response arrived (RFC 3261
// §9.1 forbids it before). Given up by ctx before one arrived (a retriever came
// while it was about to ring), it waits for that provisional and cancels then,
// so the target does not ring on with a call nobody will take; a target that
// answered nothing by the end of ring — a dead phone — is abandoned instead of
// waiting out Timer B (32 s), and so is everything at once when the service stops.
//
// direct sends the INVITE straight to target (a contact, as in a park by
// REFER with Replaces) instead of through Outbound; extra headers are added.
func (r *run) dial(ctx context.Context, target, orbit string, ring time.Duration, direct bool, extra ...sip.Header) (*leg, error) {
	var uri sip.Uri
	if err := sip.ParseUri(target, &uri); err != nil {
		return nil, fmt.Errorf("dial %q: %w", target, err)
	}
	media, err := newStream(net.ParseIP(r.s.opt.MediaIP), &r.s.openStreams)
	if err != nil {
		return nil, err
	}
	req := sip.NewRequest(sip.INVITE, uri)
	from := sip.FromHeader{DisplayName: "Parked call " + orbit,
		Address: sip.Uri{Scheme: "sip", User: parkwire.ParkUser, Host: r.s.opt.Domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(&from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: uri.Scheme, User: uri.User, Host: uri.Host, Port: uri.Port}})
	ct := r.contact()
	req.AppendHeader(&ct)
	req.AppendHeader(sip.NewHeader(parkwire.OrbitHeader, orbit))
	for _, h := range extra {
		req.AppendHeader(h)
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(audiosdp.Build(media.localAddr(), rand.Uint64()>>1))
	if direct {
		r.stamp(req)
	} else {
		r.outbound(req)
	}
	cs, err := r.dua.WriteInvite(ctx, req)
	if err != nil {
		media.close()
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	l := r.newLeg(req.CallID().Value(), media)
	l.cs, l.invite, l.trace = cs, req, calltrace.From(req)
	// provisional: the target answered 1xx, so a CANCEL may go; cancelWanted: ctx
	// gave up before that, so the CANCEL goes when the 1xx comes. Each side stores
	// its flag before it reads the other's, so one of them sees both.
	var provisional, cancelWanted atomic.Bool
	wctx, giveUp := context.WithCancelCause(context.WithoutCancel(ctx))
	defer giveUp(nil)
	abandon := func() { giveUp(sipgo.WaitAnswerForceCancelErr) } // WaitAnswer just returns
	stopAfter := context.AfterFunc(ctx, func() {
		if r.ctx.Err() != nil {
			abandon() // the service stops: no CANCEL to wait on
			return
		}
		cancelWanted.Store(true)
		if provisional.Load() {
			giveUp(errRingTimeout) // WaitAnswer sends CANCEL
		}
	})
	defer stopAfter()
	stopWithService := context.AfterFunc(r.ctx, abandon)
	defer stopWithService()
	timer := time.AfterFunc(ring, func() {
		if provisional.Load() && r.ctx.Err() == nil {
			giveUp(errRingTimeout)
		} else {
			abandon()
		}
	})
	defer timer.Stop()
	err = cs.WaitAnswer(wctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		if res.IsProvisional() {
			provisional.Store(true)
			if cancelWanted.Load() && r.ctx.Err() == nil {
				giveUp(errRingTimeout)
			}
		}
		return nil
	}})
	if err != nil {
		if res := cs.InviteResponse; res != nil && res.IsSuccess() {
			// The 200 crossed our CANCEL (RFC 3261 §9.1): the call exists
			// at the far end, so complete it with ACK and end it with BYE.
			l.res = res
			if cs.Ack(context.WithoutCancel(ctx)) == nil {
				r.wg.Add(1)
				go func() {
					defer r.wg.Done()
					l.hangup(r.ctx, nil)
				}()
				return nil, fmt.Errorf("dial %s: answered after giving up: %w", target, err)
			}
		}
		l.end()
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	l.res = cs.InviteResponse
	if err := cs.Ack(wctx); err != nil {
		l.end()
		return nil, fmt.Errorf("dial %s: ack: %w", target, err)
	}
	if d, err := sdpRules.Parse(l.res.Body()); err == nil {
		l.pt = d.Codec()
	}
	return l, nil
}

// asDialogError finds the final response in a failed INVITE's error.
func asDialogError(err error) (*sip.Response, bool) {
	var de *sipgo.ErrDialogResponse
	if errors.As(err, &de) && de.Res != nil {
		return de.Res, true
	}
	return nil, false
}
