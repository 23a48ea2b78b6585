package ua

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
)

// watchUser is the user part of the watcher's Contact and From: it is not a person.
const watchUser = "parkway-watch"

// ParkedList is a pool's parked calls, as its park service last reported them
// (Event: x-parkway-park, park/subscribe.go).
type ParkedList struct {
	Pool   string
	Parked []parkwire.ParkedCall
	// Event is the change that produced this list, nil for the first report.
	Event *parkwire.Event
}

// Watcher keeps a live list of a pool's parked calls: a SUBSCRIBE dialog to the park
// service (RFC 6665) refreshed before it expires, re-established when the notifier
// ends it, and moved to the new active pool by Redirect when it follows the active
// pool. One goroutine owns the subscription; NOTIFYs are answered on sipgo's.
type Watcher struct {
	m        *Manager
	follow   bool // follow the active pool
	onChange func(ParkedList)
	// onRedirect is told the new active pool after every Redirect (OnRedirect);
	// guarded by m.mu.
	onRedirect func(Pool)

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	move   chan Pool
	kick   chan struct{} // the notifier terminated us: subscribe again

	// cbMu serialises NOTIFY processing, so onChange sees lists in order.
	cbMu sync.Mutex
	// mu guards the subscription dialog and the list.
	mu      sync.Mutex
	pool    Pool
	callID  string
	from    sip.FromHeader
	to      sip.ToHeader
	target  sip.Uri
	cseq    uint32
	granted time.Duration
	list    ParkedList
}

// WatchParked subscribes to the parked calls of pool ("" follows the active pool across
// redirections) and calls onChange (on one goroutine at a time, in order) with every
// new list. It returns once the first SUBSCRIBE was accepted.
func (m *Manager) WatchParked(ctx context.Context, pool string, onChange func(ParkedList)) (*Watcher, error) {
	w := &Watcher{m: m, onChange: onChange, done: make(chan struct{}),
		move: make(chan Pool, 1), kick: make(chan struct{}, 1)}
	p := m.Active()
	if pool == "" {
		w.follow = true
	} else {
		var ok bool
		if p, ok = m.Pool(pool); !ok {
			return nil, fmt.Errorf("ua: watch: unknown pool %q", pool)
		}
	}
	w.ctx, w.cancel = context.WithCancel(m.ctx)
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, fmt.Errorf("ua: watch: manager closed")
	}
	m.watchers[w] = struct{}{}
	m.mu.Unlock()
	if err := w.subscribe(ctx, p); err != nil {
		w.forget()
		return nil, fmt.Errorf("ua: watch %s: %w", p.Name, err)
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(w.done)
		w.run()
	}()
	return w, nil
}

// List is the latest parked-calls list.
func (w *Watcher) List() ParkedList {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	l.Parked = append([]parkwire.ParkedCall(nil), l.Parked...)
	return l
}

// OnRedirect has fn called with the new active pool each time Redirect has moved the
// users, whichever pool w watches, until w is closed: a watcher with a fixed pool
// stays where it is, and fn lets its owner follow the active pool anyway. fn runs on
// Redirect's goroutine, with no lock held: it must not block.
func (w *Watcher) OnRedirect(fn func(Pool)) {
	w.m.mu.Lock()
	w.onRedirect = fn
	w.m.mu.Unlock()
}

// Resubscribe starts a new subscription dialog at w's pool without waiting for the
// refresh to find the old one gone: for a pool that just came back up (restarted, it
// has forgotten every subscription). It does not block.
func (w *Watcher) Resubscribe() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Close unsubscribes (Expires: 0) and stops the watcher.
func (w *Watcher) Close() {
	w.cancel()
	select {
	case <-w.done:
	case <-w.m.ctx.Done():
	}
	w.forget()
}

func (w *Watcher) forget() {
	w.m.mu.Lock()
	delete(w.m.watchers, w)
	w.m.mu.Unlock()
}

func (w *Watcher) run() {
	t := time.NewTimer(w.refreshIn())
	defer t.Stop()
	var leaving sync.WaitGroup // unsubscribes from pools left behind
	defer leaving.Wait()
	retry := time.Second
	again := func(err error) {
		w.m.log.Warn("ua: park watch", "pool", w.currentPool().Name, "error", err, "retry", retry)
		t.Reset(retry)
		retry = min(retry*2, 30*time.Second)
	}
	for {
		select {
		case <-w.ctx.Done():
			if req := w.refreshRequest(0); req != nil {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), w.m.cfg.RequestTimeout)
				w.unsubscribe(ctx, w.currentPool().Name, req)
				cancel()
			}
			return
		case p := <-w.move:
			old := w.currentPool()
			if old.Name != p.Name {
				// Best effort and on the side: the old pool may be dead (failover), and
				// the new pool's list must not wait for its transaction to time out.
				if req := w.refreshRequest(0); req != nil {
					leaving.Go(func() {
						ctx, cancel := context.WithTimeout(w.ctx, w.m.cfg.RequestTimeout)
						defer cancel()
						w.unsubscribe(ctx, old.Name, req)
					})
				}
			}
			ctx, cancel := context.WithTimeout(w.ctx, w.m.cfg.RequestTimeout)
			err := w.subscribe(ctx, p)
			cancel()
			if err != nil {
				again(err)
				continue
			}
			retry = time.Second
			t.Reset(w.refreshIn())
		case <-w.kick:
			ctx, cancel := context.WithTimeout(w.ctx, w.m.cfg.RequestTimeout)
			err := w.subscribe(ctx, w.currentPool())
			cancel()
			if err != nil {
				again(err)
				continue
			}
			retry = time.Second
			t.Reset(w.refreshIn())
		case <-t.C:
			ctx, cancel := context.WithTimeout(w.ctx, w.m.cfg.RequestTimeout)
			err := w.refresh(ctx, w.m.cfg.WatchExpires)
			if err != nil {
				// The dialog is gone (481, a restarted pool): start a new one.
				err = w.subscribe(ctx, w.currentPool())
			}
			cancel()
			if err != nil {
				again(err)
				continue
			}
			retry = time.Second
			t.Reset(w.refreshIn())
		}
	}
}

func (w *Watcher) currentPool() Pool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pool
}

func (w *Watcher) refreshIn() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return time.Duration(float64(w.granted) * w.m.cfg.RefreshAt)
}

// subscribe starts a new subscription dialog at pool (RFC 6665 §4.1.2.1).
func (w *Watcher) subscribe(ctx context.Context, p Pool) error {
	uri := sip.Uri{Scheme: "sip", User: parkwire.ParkUser, Host: p.domain()}
	req := sip.NewRequest(sip.SUBSCRIBE, uri)
	from := sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: watchUser, Host: p.domain()}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(&from)
	req.AppendHeader(&sip.ToHeader{Address: uri})
	callID := sip.GenerateTagN(20) + "@" + w.m.host
	id := sip.CallIDHeader(callID)
	req.AppendHeader(&id)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.SUBSCRIBE})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: watchUser, Host: w.m.host, Port: w.m.port}})
	req.AppendHeader(sip.NewHeader("Event", parkwire.EventPark))
	req.AppendHeader(sip.NewHeader("Accept", parkwire.ContentTypePark))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(w.m.cfg.WatchExpires/time.Second))))
	req.SetDestination(p.Addr)
	req.SetTransport(p.transport())
	// The first NOTIFY may overtake the 2xx (RFC 6665 §4.1.2.4): be ready for it.
	w.mu.Lock()
	w.pool, w.callID, w.from, w.cseq, w.list = p, callID, from, 1, ParkedList{Pool: p.Name}
	w.to = sip.ToHeader{Address: uri}
	w.target = uri
	w.mu.Unlock()
	res, err := w.m.client(p).Do(ctx, req)
	if err != nil {
		return fmt.Errorf("SUBSCRIBE: %w", err)
	}
	if !res.IsSuccess() {
		return &StatusError{Method: "SUBSCRIBE", Code: res.StatusCode, Reason: res.Reason}
	}
	w.mu.Lock()
	if w.callID == callID {
		w.to = *res.To()
		if ct := res.Contact(); ct != nil {
			w.target = ct.Address
		}
		w.granted = w.m.cfg.WatchExpires
		if n, err := strconv.Atoi(headerValue(res, "Expires")); err == nil && n > 0 {
			w.granted = time.Duration(n) * time.Second
		}
	}
	w.mu.Unlock()
	return nil
}

// refresh re-SUBSCRIBEs in the dialog; expires 0 unsubscribes (RFC 6665 §4.1.2.3).
func (w *Watcher) refresh(ctx context.Context, expires time.Duration) error {
	req := w.refreshRequest(expires)
	if req == nil {
		return fmt.Errorf("no subscription")
	}
	res, err := w.m.cli.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("SUBSCRIBE refresh: %w", err)
	}
	if !res.IsSuccess() {
		return &StatusError{Method: "SUBSCRIBE refresh", Code: res.StatusCode, Reason: res.Reason}
	}
	if expires > 0 {
		w.mu.Lock()
		w.granted = expires
		if n, err := strconv.Atoi(headerValue(res, "Expires")); err == nil && n > 0 {
			w.granted = time.Duration(n) * time.Second
		}
		w.mu.Unlock()
	}
	return nil
}

// unsubscribe sends req, a SUBSCRIBE with Expires: 0 (RFC 6665 §4.1.2.3), to pool.
// It is best effort: a pool that does not answer — down, or left behind by a failover —
// drops the subscription itself when it expires, so a failure is logged, not returned.
// A 481 means the pool had already forgotten it (restarted): nothing to undo. To a pool
// that is down (Manager.PoolDown) nothing is sent.
func (w *Watcher) unsubscribe(ctx context.Context, pool string, req *sip.Request) {
	if w.m.poolDown(pool) {
		w.m.log.Debug("ua: park watch: no unsubscribe from a pool that is down; the subscription lapses there", "pool", pool)
		return
	}
	res, err := w.m.cli.Do(ctx, req)
	if err == nil && !res.IsSuccess() && res.StatusCode != 481 {
		err = &StatusError{Method: "SUBSCRIBE", Code: res.StatusCode, Reason: res.Reason}
	}
	if err != nil {
		w.m.log.Info("ua: park watch: unsubscribe failed; the pool drops the subscription when it expires",
			"pool", pool, "error", err)
	}
}

// refreshRequest builds the next SUBSCRIBE of the current dialog; nil when there is
// none. With expires 0 the subscription is forgotten at once: NOTIFYs of its dialog
// are no longer ours.
func (w *Watcher) refreshRequest(expires time.Duration) *sip.Request {
	w.mu.Lock()
	if w.callID == "" {
		w.mu.Unlock()
		return nil
	}
	w.cseq++
	req := sip.NewRequest(sip.SUBSCRIBE, w.target)
	from, to := w.from, w.to
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	id := sip.CallIDHeader(w.callID)
	req.AppendHeader(&id)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: w.cseq, MethodName: sip.SUBSCRIBE})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: watchUser, Host: w.m.host, Port: w.m.port}})
	req.AppendHeader(sip.NewHeader("Event", parkwire.EventPark))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	req.SetTransport("UDP")
	if expires == 0 {
		w.callID = "" // NOTIFYs of this dialog are no longer ours
	}
	w.mu.Unlock()
	req.Laddr = w.m.laddr()
	return req
}

// watcherFor finds the watcher whose subscription a NOTIFY belongs to.
func (m *Manager) watcherFor(req *sip.Request) *Watcher {
	if req.CallID() == nil {
		return nil
	}
	id := req.CallID().Value()
	m.mu.Lock()
	ws := make([]*Watcher, 0, len(m.watchers))
	for w := range m.watchers {
		ws = append(ws, w)
	}
	m.mu.Unlock()
	for _, w := range ws {
		w.mu.Lock()
		ok := w.callID == id
		w.mu.Unlock()
		if ok {
			return w
		}
	}
	return nil
}

// onNotify takes one NOTIFY (RFC 6665 §4.1.3): the full list, newer versions only.
func (w *Watcher) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	var doc parkwire.PublishedPark
	if err := json.Unmarshal(req.Body(), &doc); err != nil {
		respond(req, tx, 400, "Bad Body")
		return
	}
	respond(req, tx, 200, "OK")
	state := strings.ToLower(headerValue(req, "Subscription-State"))
	w.cbMu.Lock()
	defer w.cbMu.Unlock()
	w.mu.Lock()
	if w.list.Event != nil && doc.Version != 0 && doc.Event != nil && w.list.Event.Seq >= doc.Event.Seq {
		w.mu.Unlock()
		return // an older report arriving late
	}
	w.list = ParkedList{Pool: doc.Pool, Parked: doc.Parked, Event: doc.Event}
	l := w.list
	if strings.HasPrefix(state, "terminated") {
		w.callID = ""
	}
	w.mu.Unlock()
	if w.onChange != nil {
		w.onChange(l)
	}
	if strings.HasPrefix(state, "terminated") && w.ctx.Err() == nil {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// moveWatchers moves watchers that follow the active pool to p, then tells every
// watcher's OnRedirect.
func (m *Manager) moveWatchers(_ context.Context, p Pool) {
	var told []func(Pool)
	m.mu.Lock()
	for w := range m.watchers {
		if w.onRedirect != nil {
			told = append(told, w.onRedirect)
		}
		if !w.follow {
			continue
		}
		select {
		case <-w.move:
		default:
		}
		w.move <- p
	}
	m.mu.Unlock()
	for _, fn := range told {
		fn(p)
	}
}
