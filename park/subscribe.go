package park

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/sip/dialoginfo"
)

// Subscription expiry bounds (RFC 6665 §4.2.1.1: the notifier may shorten).
const (
	defaultSubExpiry = time.Hour
	maxSubExpiry     = time.Hour
)

// subscription is one SUBSCRIBE dialog (park is the notifier). Its worker
// goroutine sends every NOTIFY, in order; kicks coalesce because each
// NOTIFY carries the full state (RFC 4235 §4.1 state="full").
type subscription struct {
	r       *run
	callID  string
	event   string
	orbit   string // "" watches the whole service
	from    sip.FromHeader
	to      sip.ToHeader
	target  sip.Uri
	tport   string
	cseq    uint32
	version uint64

	expires chan time.Time // new expiry from a refresh; zero time = unsubscribe
	kick    chan struct{}
}

func (r *run) onSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	ev := eventPackage(headerValue(req, "Event"))
	user := req.Recipient.User
	expires, err := parseExpires(req.GetHeader("Expires"))
	if err != nil {
		respond(req, tx, 400, "Bad Expires")
		return
	}
	if to := req.To(); to != nil && to.Params.Has("tag") {
		r.refresh(req, tx, expires)
		return
	}
	switch {
	case ev == "":
		respond(req, tx, 400, "Missing Event")
		return
	case !strings.EqualFold(user, parkwire.ParkUser) && !r.s.Owns(user):
		r.respondErr(req, tx, ErrOrbitNotFound.withOrbit(user))
		return
	case ev != parkwire.EventDialog && !(ev == parkwire.EventPark && strings.EqualFold(user, parkwire.ParkUser)):
		// RFC 6665 §8.2.1: unknown package → 489 with Allow-Events.
		respond(req, tx, 489, "Bad Event", sip.NewHeader("Allow-Events", parkwire.EventDialog+", "+parkwire.EventPark))
		return
	case req.Contact() == nil || req.From() == nil:
		respond(req, tx, 400, "Missing Contact or From")
		return
	}
	sub := &subscription{r: r, callID: req.CallID().Value(), event: ev,
		target: req.Contact().Address, tport: req.Transport(),
		expires: make(chan time.Time, 1), kick: make(chan struct{}, 1)}
	if !strings.EqualFold(user, parkwire.ParkUser) {
		sub.orbit = user
	}
	to := req.To().AsFrom()
	to.Params = to.Params.Clone()
	to.Params.Add("tag", sip.GenerateTagN(16))
	sub.from = to
	sub.to = req.From().AsTo()
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.To().Params = to.Params.Clone()
	ct := r.contact()
	res.AppendHeader(&ct)
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	r.s.mu.Lock()
	if r.ctx.Err() != nil {
		r.s.mu.Unlock()
		return
	}
	if len(r.subs) >= r.s.opt.MaxSubscriptions {
		r.s.mu.Unlock()
		respond(req, tx, 503, "Too Many Subscriptions", sip.NewHeader("Retry-After", "60"))
		return
	}
	if expires > 0 {
		r.subs[sub.callID] = sub
	}
	r.wg.Add(1)
	r.s.mu.Unlock()
	_ = tx.Respond(res)
	// RFC 6665 §4.2.1.2: NOTIFY right away with the current state; with
	// Expires: 0 that single NOTIFY also terminates (a fetch).
	go func() {
		defer r.wg.Done()
		sub.work(expires)
	}()
}

// eventPackage returns the package name of an Event header value
// (RFC 6665 §8.2.1: event-type, then ;id= and other params), lower-cased.
func eventPackage(v string) string {
	ev, _, _ := strings.Cut(v, ";")
	return strings.ToLower(strings.TrimSpace(ev))
}

// parseExpires reads a SUBSCRIBE's Expires (RFC 6665 §4.1.2.1): absent
// means the package default, larger than we allow is shortened (§4.2.1.1).
func parseExpires(h sip.Header) (time.Duration, error) {
	if h == nil {
		return defaultSubExpiry, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
	if err != nil {
		return 0, err
	}
	return min(time.Duration(n)*time.Second, maxSubExpiry), nil
}

func (r *run) refresh(req *sip.Request, tx sip.ServerTransaction, expires time.Duration) {
	r.s.mu.Lock()
	sub := r.subs[req.CallID().Value()]
	r.s.mu.Unlock()
	if sub == nil {
		respond(req, tx, 481, "Subscription Does Not Exist")
		return
	}
	respond(req, tx, 200, "OK", sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	var at time.Time
	if expires > 0 {
		at = time.Now().Add(expires)
	}
	select {
	case <-sub.expires: // replace a pending refresh with the newest
	default:
	}
	sub.expires <- at
}

// kickSubscriptions wakes every subscription watching orbit.
func (r *run) kickSubscriptions(orbit string) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	for _, sub := range r.subs {
		if sub.orbit == "" || sub.orbit == orbit {
			select {
			case sub.kick <- struct{}{}:
			default:
			}
		}
	}
}

func (s *subscription) work(expires time.Duration) {
	r := s.r
	defer func() {
		r.s.mu.Lock()
		if r.subs[s.callID] == s {
			delete(r.subs, s.callID)
		}
		r.s.mu.Unlock()
	}()
	if expires == 0 {
		s.notify("terminated;reason=timeout")
		return
	}
	deadline := time.Now().Add(expires)
	timer := time.NewTimer(expires)
	defer timer.Stop()
	if !s.notify(s.activeState(deadline)) {
		return
	}
	for {
		select {
		case <-r.ctx.Done():
			return // Stop: no NOTIFY, as after a crash
		case <-s.kick:
			if !s.notify(s.activeState(deadline)) {
				return
			}
		case at := <-s.expires:
			if at.IsZero() { // unsubscribe (RFC 6665 §4.2.1.3)
				s.notify("terminated")
				return
			}
			deadline = at
			timer.Reset(time.Until(at))
			if !s.notify(s.activeState(deadline)) {
				return
			}
		case <-timer.C:
			s.notify("terminated;reason=timeout")
			return
		}
	}
}

func (s *subscription) activeState(deadline time.Time) string {
	left := int(time.Until(deadline).Round(time.Second) / time.Second)
	return "active;expires=" + strconv.Itoa(max(left, 1))
}

// notify sends one NOTIFY with the current state; false means the
// subscriber is gone (error or 481) and the subscription must end
// (RFC 6665 §4.1.3).
func (s *subscription) notify(state string) bool {
	r := s.r
	s.cseq++
	s.version++
	body, ctype := s.body()
	req := sip.NewRequest(sip.NOTIFY, s.target)
	req.SetTransport(s.tport)
	from, to := s.from, s.to
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	id := sip.CallIDHeader(s.callID)
	req.AppendHeader(&id)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: s.cseq, MethodName: sip.NOTIFY})
	ct := r.contact()
	req.AppendHeader(&ct)
	req.AppendHeader(sip.NewHeader("Event", s.event))
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(sip.NewHeader("Content-Type", ctype))
	req.SetBody(body)
	r.stamp(req)
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
	defer cancel()
	res, err := r.cli.Do(ctx, req)
	if err != nil || res.StatusCode == 481 || res.StatusCode >= 400 && res.StatusCode != 408 {
		r.s.log.Debug("notify failed, dropping subscription", "call-id", s.callID, "err", err)
		return false
	}
	return true
}

func (s *subscription) body() ([]byte, string) {
	r := s.r
	parked := r.s.Parked()
	if s.event == parkwire.EventPark {
		doc := parkwire.PublishedPark{Pool: r.s.opt.Name, Version: s.version, Parked: parked}
		r.s.mu.Lock()
		if r.last != nil {
			e := *r.last
			doc.Event = &e
		}
		r.s.mu.Unlock()
		b, _ := json.Marshal(doc)
		return b, parkwire.ContentTypePark
	}
	entity := r.s.ParkURI()
	if s.orbit != "" {
		entity = "sip:" + s.orbit + "@" + r.s.opt.Domain
	}
	info := dialoginfo.Info{Version: s.version, State: "full", Entity: entity}
	for _, pc := range parked {
		if s.orbit != "" && pc.Orbit != s.orbit {
			continue
		}
		d := dialoginfo.Dialog{ID: "orbit-" + pc.Orbit, Direction: "recipient",
			State:    dialoginfo.DialogState{Value: "confirmed"},
			Duration: int(time.Since(pc.Since) / time.Second),
			Local:    &dialoginfo.Participant{Identity: "sip:" + pc.Orbit + "@" + r.s.opt.Domain},
			Remote:   &dialoginfo.Participant{Identity: pc.ParkedParty}}
		if pc.State == parkwire.StateRingingBack {
			d.State.Event = "ringing-back"
		}
		info.Dialogs = append(info.Dialogs, d)
	}
	b, _ := info.Marshal()
	return b, dialoginfo.ContentType
}
