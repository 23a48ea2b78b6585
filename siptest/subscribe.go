package siptest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/sip/transfer"
)

// Subscription is a SUBSCRIBE dialog (RFC 6665 §4.1) and the NOTIFYs it
// receives.
type Subscription struct {
	p        *Phone
	event    string
	callID   string
	from     sip.FromHeader
	to       sip.ToHeader
	target   sip.Uri
	cseq     uint32
	mu       sync.Mutex
	notifies chan *sip.Request
	Response *sip.Response // the 2xx to the initial SUBSCRIBE
}

// Notifies delivers every NOTIFY of the subscription, including the one
// RFC 6665 §4.2.1.2 requires right after the SUBSCRIBE and the final one
// with Subscription-State: terminated.
func (s *Subscription) Notifies() <-chan *sip.Request { return s.notifies }

func (s *Subscription) deliver(req *sip.Request) {
	select {
	case s.notifies <- req:
	default: // a test that stopped reading must not block the phone
	}
}

// Subscribe sends SUBSCRIBE for event to target, asking for expires.
func (p *Phone) Subscribe(ctx context.Context, target, event string, expires time.Duration) (*Subscription, error) {
	req, err := p.newRequest(sip.SUBSCRIBE, target)
	if err != nil {
		return nil, err
	}
	req.AppendHeader(sip.NewHeader("Event", event))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	if event == "dialog" {
		req.AppendHeader(sip.NewHeader("Accept", "application/dialog-info+xml"))
	}
	s := &Subscription{p: p, event: event, notifies: make(chan *sip.Request, 64)}
	// Build the headers now so the Call-ID is known before a NOTIFY can race
	// the 2xx (RFC 6665 §4.1.2.4).
	if err := clientBuild(p, req); err != nil {
		return nil, err
	}
	s.callID = req.CallID().Value()
	p.mu.Lock()
	p.subs[s.callID] = s
	p.mu.Unlock()
	res, err := p.do(ctx, req)
	if err != nil {
		p.mu.Lock()
		delete(p.subs, s.callID)
		p.mu.Unlock()
		return nil, err
	}
	s.Response = res
	s.from = *req.From()
	s.to = *res.To()
	s.cseq = req.CSeq().SeqNo
	s.target = req.Recipient
	if ct := res.Contact(); ct != nil {
		s.target = ct.Address
	}
	return s, nil
}

func clientBuild(p *Phone, req *sip.Request) error {
	if req.CallID() == nil {
		id := sip.CallIDHeader(sip.GenerateTagN(20) + "@siptest")
		req.AppendHeader(&id)
	}
	if req.CSeq() == nil {
		req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: req.Method})
	}
	return nil
}

// Refresh re-SUBSCRIBEs in the dialog with a new expiry; 0 unsubscribes
// (RFC 6665 §4.1.2.3), which the notifier answers with a terminated NOTIFY.
func (s *Subscription) Refresh(ctx context.Context, expires time.Duration) (*sip.Response, error) {
	s.mu.Lock()
	s.cseq++
	cseq := s.cseq
	s.mu.Unlock()
	req := sip.NewRequest(sip.SUBSCRIBE, s.target)
	from, to := s.from, s.to
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	id := sip.CallIDHeader(s.callID)
	req.AppendHeader(&id)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.SUBSCRIBE})
	ct := s.p.contact()
	req.AppendHeader(&ct)
	req.AppendHeader(sip.NewHeader("Event", s.event))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	s.p.stamp(req)
	return s.p.do(ctx, req)
}

// Unsubscribe is Refresh(ctx, 0).
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	_, err := s.Refresh(ctx, 0)
	return err
}

// NextNotify waits for the next NOTIFY whose body contains want ("" for any).
func (s *Subscription) NextNotify(ctx context.Context, want string) (*sip.Request, error) {
	for {
		select {
		case n := <-s.notifies:
			if want == "" || strings.Contains(string(n.Body()), want) {
				return n, nil
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("siptest: waiting for NOTIFY with %q: %w", want, ctx.Err())
		}
	}
}

// ReferOut sends a REFER outside any dialog (RFC 3515 §2.4.2) to target,
// asking it to contact referTo (a raw Refer-To value). The returned
// Subscription receives the NOTIFYs of the implicit subscription; see
// TransferResult.
func (p *Phone) ReferOut(ctx context.Context, target, referTo string) (*Subscription, error) {
	req, err := p.newRequest(sip.REFER, target)
	if err != nil {
		return nil, err
	}
	req.AppendHeader(sip.NewHeader("Refer-To", referTo))
	req.AppendHeader(sip.NewHeader("Referred-By", "<"+p.aor.String()+">"))
	if err := clientBuild(p, req); err != nil {
		return nil, err
	}
	s := &Subscription{p: p, event: "refer", callID: req.CallID().Value(), notifies: make(chan *sip.Request, 64)}
	p.mu.Lock()
	p.subs[s.callID] = s
	p.mu.Unlock()
	res, err := p.do(ctx, req)
	if err != nil {
		p.mu.Lock()
		delete(p.subs, s.callID)
		p.mu.Unlock()
		return nil, err
	}
	s.Response = res
	s.from, s.to, s.cseq, s.target = *req.From(), *res.To(), req.CSeq().SeqNo, req.Recipient
	return s, nil
}

// TransferResult waits for the NOTIFY carrying a final sipfrag status
// (RFC 3515 §2.4.5) and returns that status.
func (s *Subscription) TransferResult(ctx context.Context) (int, error) {
	for {
		select {
		case n := <-s.notifies:
			if code, err := transfer.ParseSipfrag(n.Body()); err == nil && code >= 200 {
				return code, nil
			}
		case <-ctx.Done():
			return 0, fmt.Errorf("siptest: waiting for transfer result: %w", ctx.Err())
		}
	}
}
