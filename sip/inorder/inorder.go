// Package inorder has the requests of one SIP dialog handled in the order they arrived.
//
// sipgo hands every message it reads to a goroutine of its own, so two requests of one
// dialog sent back to back — an ACK and the REFER after it, say — can reach their
// handlers the other way round. RFC 3261 §12.2.2 has a UAS process a dialog's requests
// in CSeq order, and a stateless relay must not swap what it relays; both need arrival
// order back.
//
// A [Queue] learns the arrival order where it still exists, on the goroutine that reads
// a socket or a connection: the transport's read filter calls [Queue.Arrived] for every
// request. A handler then calls [Queue.Turn], which waits until every request of the
// same dialog that arrived earlier has finished (its own done was called), and calls
// the done it returns once the request has been acted on. Requests outside a dialog
// (no To tag) are never held. A filter that needs nothing else of a message calls
// [Scan] and [Queue.ArrivedScanned] instead of parsing it (sipgo parses it next).
//
// A proxy relays responses too, and a response must not be overtaken by the request its
// sender sent right after it (a 202 to a REFER, then the NOTIFY): [Queue.ArrivedResponse]
// puts a response in its dialog's order and [Queue.Relayed] marks it done.
//
// Everything is bounded: at most MaxDialogs dialogs and MaxPending requests per dialog
// are tracked (beyond that requests go unordered, as without a Queue); a request that
// arrived but never reaches a handler — a retransmission sipgo's transaction layer
// absorbs, a message it rejects — holds its successors for at most MaxWait. Once a BYE
// in a dialog finishes nothing more is queued in it; its record, which only knows the
// requests it saw so that their retransmissions are not queued, goes after IdleTTL
// without requests (or at once when the Queue is full).
//
// It is one of Parkway's shared SIP helpers under sip/ (see sip/README.md).
package inorder

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Defaults for Options.
const (
	DefaultMaxDialogs = 65536
	DefaultMaxPending = 32
	// DefaultMaxWait is 4×T1: by then a UAC has retransmitted a request three times,
	// and a request the Queue saw arrive has surely reached its handler unless it
	// never will.
	DefaultMaxWait = 2 * time.Second
	// DefaultIdleTTL is 64×T1, how long a request may be retransmitted (RFC 3261
	// §17.1.2.2): after that a dialog's record only knows what is over.
	DefaultIdleTTL = 32 * time.Second
)

// recentLen is how many finished requests a dialog remembers, to know their
// retransmissions when they are read again.
const recentLen = 16

// Options bound a Queue; zero fields take the defaults above.
type Options struct {
	// MaxDialogs caps the dialogs tracked at once.
	MaxDialogs int
	// MaxPending caps the requests of one dialog waiting or running.
	MaxPending int
	// MaxWait is the longest a request waits for those that arrived before it.
	MaxWait time.Duration
	// IdleTTL forgets a dialog that has seen no request for this long, ended or not.
	IdleTTL time.Duration
	// Now is the clock for arrival times and expiry; default time.Now.
	Now func() time.Time
}

// Queue orders the in-dialog requests of many dialogs. Its zero value is not usable;
// call New. It is safe for concurrent use.
type Queue struct {
	opt     Options
	waiting atomic.Int64 // requests held in Turn right now

	// mu guards dialogs, every dialog in it and every entry's started flag.
	mu        sync.Mutex
	dialogs   map[dialogKey]*dialog
	lastSweep time.Time
}

// dialogKey names a dialog from either side: Call-ID and both tags, the lesser first, so
// requests in both directions share one order.
type dialogKey struct{ callID, tag1, tag2 string }

type dialog struct {
	pending []*entry // arrived and not finished, in arrival order
	recent  [recentLen]string
	next    int // where the next finished id goes in recent
	seen    time.Time
	ended   bool // a BYE finished: forget the dialog once pending is empty
	// passed are the last requests Pass let through, to pass their retransmissions too.
	passed     [passedLen]string
	nextPassed int
}

// passedLen is how many requests passed outside the order a dialog remembers.
const passedLen = 8

type entry struct {
	id      string
	arrived time.Time
	started bool
	done    chan struct{} // closed when the request finished or was given up on
}

// New returns an empty Queue.
func New(opt Options) *Queue {
	if opt.MaxDialogs <= 0 {
		opt.MaxDialogs = DefaultMaxDialogs
	}
	if opt.MaxPending <= 0 {
		opt.MaxPending = DefaultMaxPending
	}
	if opt.MaxWait <= 0 {
		opt.MaxWait = DefaultMaxWait
	}
	if opt.IdleTTL <= 0 {
		opt.IdleTTL = DefaultIdleTTL
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Queue{opt: opt, dialogs: map[dialogKey]*dialog{}}
}

// keyOf is m's dialog, if it is in one (both tags present).
func keyOf(m sip.Message) (dialogKey, bool) {
	from, to, cid := m.From(), m.To(), m.CallID()
	if from == nil || to == nil || cid == nil {
		return dialogKey{}, false
	}
	ft, ok1 := from.Params.Get("tag")
	tt, ok2 := to.Params.Get("tag")
	if !ok1 || !ok2 || ft == "" || tt == "" {
		return dialogKey{}, false
	}
	if tt < ft {
		ft, tt = tt, ft
	}
	return dialogKey{callID: cid.Value(), tag1: ft, tag2: tt}, true
}

// idOf names one request (not its retransmissions) within its dialog: method, CSeq
// number and the top Via's branch (RFC 3261 §17.2.3).
func idOf(req *sip.Request, method sip.RequestMethod) string {
	branch := ""
	if v := req.Via(); v != nil {
		branch, _ = v.Params.Get("branch")
	}
	seq := uint32(0)
	if cs := req.CSeq(); cs != nil {
		seq = cs.SeqNo
	}
	return string(method) + " " + strconv.FormatUint(uint64(seq), 10) + " " + branch
}

func (d *dialog) passes(id string) bool {
	for _, p := range d.passed {
		if p == id {
			return true
		}
	}
	return false
}

func (d *dialog) knows(id string) bool {
	for _, e := range d.pending {
		if e.id == id {
			return true
		}
	}
	for _, r := range d.recent {
		if r == id {
			return true
		}
	}
	return false
}

// Arrived records that req was read from the network. Call it in reading order — from
// the goroutine that reads the socket or connection — and before sipgo handles req.
func (q *Queue) Arrived(req *sip.Request) {
	if req.IsCancel() {
		// sipgo's transaction layer takes a CANCEL that matches its INVITE (RFC 3261
		// §9.2) and no handler sees it; one that matches nothing is answered 481
		// whenever it comes. Either way nothing need wait for it.
		return
	}
	k, ok := keyOf(req)
	if !ok {
		return
	}
	skip := ""
	if req.IsAck() {
		// ACK for a non-2xx answer shares the INVITE's branch and belongs to its
		// transaction (RFC 3261 §17.1.1.3); no handler sees it.
		skip = idOf(req, sip.INVITE)
	}
	q.add(k, idOf(req, req.Method), skip)
}

// dialogLocked is dialog k's record, made if need be and marked seen at now; nil when
// the Queue is full even after forgetting what it can.
func (q *Queue) dialogLocked(k dialogKey, now time.Time) *dialog {
	q.sweepLocked(now, false)
	d := q.dialogs[k]
	if d == nil {
		if len(q.dialogs) >= q.opt.MaxDialogs {
			q.sweepLocked(now, true)
			if len(q.dialogs) >= q.opt.MaxDialogs {
				return nil
			}
		}
		d = &dialog{}
		q.dialogs[k] = d
	}
	d.seen = now
	return d
}

// add queues id in dialog k unless it is known already (a retransmission), or skip
// (when not "") names a request whose transaction takes this one.
func (q *Queue) add(k dialogKey, id, skip string) {
	now := q.opt.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	d := q.dialogLocked(k, now)
	if d == nil {
		return // full: this dialog goes unordered
	}
	if d.knows(id) {
		return // a retransmission: its transaction, not its handler, takes it
	}
	if d.ended {
		// Nothing after a BYE needs ordering; the record stays only so that a late
		// retransmission is known as one, and does not hold up anyone for MaxWait.
		return
	}
	if skip != "" && d.knows(skip) {
		return
	}
	if len(d.pending) >= q.opt.MaxPending {
		return
	}
	d.pending = append(d.pending, &entry{id: id, arrived: now, done: make(chan struct{})})
}

// ArrivedResponse records that res was read from the network, like Arrived: requests of
// its dialog read after it wait in Turn until Relayed(res). 100 Trying (hop by hop,
// never relayed), answers to CANCEL (which the transaction layer keeps) and to BYE
// (nothing follows them) are not recorded.
func (q *Queue) ArrivedResponse(res *sip.Response) {
	cs := res.CSeq()
	if res.StatusCode == 100 || cs == nil || cs.MethodName == sip.CANCEL || cs.MethodName == sip.BYE {
		return
	}
	k, ok := keyOf(res)
	if !ok {
		return
	}
	q.add(k, responseID(res), "")
}

// Relayed marks res, recorded by ArrivedResponse, as done: it was passed on, or dropped.
// A response never recorded is ignored.
func (q *Queue) Relayed(res *sip.Response) {
	k, ok := keyOf(res)
	if !ok {
		return
	}
	id := responseID(res)
	q.mu.Lock()
	defer q.mu.Unlock()
	d := q.dialogs[k]
	if d == nil {
		return
	}
	for _, e := range d.pending {
		if e.id == id && !e.started {
			e.started = true
			q.finishLocked(k, d, e, false)
			return
		}
	}
}

// responseID names one response (not its retransmissions) within its dialog.
func responseID(res *sip.Response) string {
	branch := ""
	if v := res.Via(); v != nil {
		branch, _ = v.Params.Get("branch")
	}
	cs := res.CSeq()
	return "SIP/2.0 " + strconv.Itoa(res.StatusCode) + " " + strconv.FormatUint(uint64(cs.SeqNo), 10) + " " + string(cs.MethodName) + " " + branch
}

// Turn waits until the requests of req's dialog that arrived before it have finished,
// or MaxWait has passed, and returns the function to call when req has been acted on
// (idempotent). A request the Queue did not see arrive returns at once.
func (q *Queue) Turn(req *sip.Request) (done func()) {
	k, ok := keyOf(req)
	if !ok {
		return func() {}
	}
	id := idOf(req, req.Method)
	q.mu.Lock()
	d := q.dialogs[k]
	var e *entry
	var before []*entry
	if d != nil {
		for i, x := range d.pending {
			if x.id == id && !x.started {
				e = x
				before = append(before, d.pending[:i]...)
				break
			}
		}
	}
	if e == nil {
		q.mu.Unlock()
		return func() {}
	}
	e.started = true
	q.mu.Unlock()

	if len(before) > 0 {
		q.waiting.Add(1)
		defer q.waiting.Add(-1)
		timeout := time.NewTimer(q.opt.MaxWait)
	wait:
		for _, b := range before {
			select {
			case <-b.done:
			case <-timeout.C:
				break wait
			}
		}
		timeout.Stop()
	}
	var once sync.Once
	bye := req.Method == sip.BYE
	return func() { once.Do(func() { q.finish(k, d, e, bye) }) }
}

func (q *Queue) finish(k dialogKey, d *dialog, e *entry, bye bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.finishLocked(k, d, e, bye)
}

func (q *Queue) finishLocked(k dialogKey, d *dialog, e *entry, bye bool) {
	q.dropLocked(d, e)
	d.recent[d.next] = e.id
	d.next = (d.next + 1) % recentLen
	if bye {
		d.ended = true
	}
}

// dropLocked removes e from d's pending requests and releases its waiters.
func (q *Queue) dropLocked(d *dialog, e *entry) {
	for i, x := range d.pending {
		if x == e {
			d.pending = append(d.pending[:i], d.pending[i+1:]...)
			close(e.done)
			return
		}
	}
}

// sweepLocked, now and then (or at once when forced), gives up on requests that arrived
// long ago and never reached a handler and forgets idle dialogs.
func (q *Queue) sweepLocked(now time.Time, force bool) {
	if !force && now.Sub(q.lastSweep) < q.opt.IdleTTL/4 {
		return
	}
	q.lastSweep = now
	stale := 4 * q.opt.MaxWait
	for k, d := range q.dialogs {
		for _, e := range append([]*entry(nil), d.pending...) {
			if !e.started && now.Sub(e.arrived) > stale {
				q.dropLocked(d, e)
			}
		}
		if len(d.pending) == 0 && (force && d.ended || now.Sub(d.seen) > q.opt.IdleTTL) {
			delete(q.dialogs, k)
		}
	}
}

// Waiting is the number of requests held in Turn right now, for tests and metrics.
func (q *Queue) Waiting() int { return int(q.waiting.Load()) }

// Len is the number of dialogs tracked, for tests and metrics.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.dialogs)
}
