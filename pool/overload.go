package pool

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
)

// Overload is admission control for the whole pool (the flood limit is per source): when
// the pool falls behind, new work is refused with 503 and Retry-After before any state
// is made for it, so a pool past its capacity sheds calls instead of failing the ones it
// took halfway through (issue #12).
//
// "Behind" is measured, not guessed from counters: a probe goroutine asks to wake every
// 10 ms and notes how late it woke. That lateness is the time a runnable goroutine waits
// for a CPU — the time each SIP message waits before it is handled — whether the pool's
// own work or another process starves it. Its moving average (about 100 ms) is compared
// with MaxDelay:
//
//   - above MaxDelay, new calls are refused: an INVITE outside a dialog that is not a
//     transfer (no Referred-By) and does not replace a dialog (no Replaces) and is not
//     for the park service, and a REFER outside a dialog;
//   - above twice MaxDelay, every INVITE outside a dialog but those with Replaces is
//     refused, parks and retrieves too (a retrieve refused leaves the call parked, to be
//     retrieved again after Retry-After).
//
// In-dialog requests, ACK, CANCEL, BYE, OPTIONS (health probes must get through) and the
// peer pool's and park service's own requests are never refused: they finish work
// already taken. Off unless MaxDelay is set (the seed has no such limit); the refusals
// are stateless over UDP, answered from the read loop like the flood limit's.
type Overload struct {
	// MaxDelay is the scheduling delay (moving average) beyond which new calls are
	// refused; 0 turns admission control off. 20–50 ms suits a pool whose calls must
	// not notice; the benchmark uses 30 ms.
	MaxDelay time.Duration
	// RetryAfter is the Retry-After of the refusals; default 2 s.
	RetryAfter time.Duration
}

// overloadGate measures the pool's scheduling delay and decides admissions.
type overloadGate struct {
	max, retryAfter time.Duration
	delay           atomic.Int64 // moving average, ns
	refused         atomic.Int64
}

func newOverloadGate(o Overload) *overloadGate {
	if o.MaxDelay <= 0 {
		return nil
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = 2 * time.Second
	}
	return &overloadGate{max: o.MaxDelay, retryAfter: o.RetryAfter}
}

// probe measures until ctx ends.
func (g *overloadGate) probe(ctx context.Context) {
	const every = 10 * time.Millisecond
	t := time.NewTimer(every)
	defer t.Stop()
	want := time.Now().Add(every)
	var avg float64
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			late := float64(time.Since(want))
			if late < 0 {
				late = 0
			}
			// Exponential moving average over about ten samples (100 ms): one slow
			// wake-up is not an overload, a run of them is.
			avg += (late - avg) / 10
			g.delay.Store(int64(avg))
			want = now.Add(every)
			t.Reset(every)
		}
	}
}

// level is 0 (admit all), 1 (refuse new calls) or 2 (refuse parks and retrieves too).
func (g *overloadGate) level() int {
	d := time.Duration(g.delay.Load())
	switch {
	case d > 2*g.max:
		return 2
	case d > g.max:
		return 1
	}
	return 0
}

// admitOverload refuses req when the pool is overloaded and req starts new work.
func (n *node) admitOverload(req *sip.Request) *sipError {
	g := n.pool.overload
	if g == nil {
		return nil
	}
	if req.Method != sip.INVITE && req.Method != sip.REFER {
		return nil
	}
	if to := req.To(); to == nil || to.Params.Has("tag") {
		return nil // in a dialog
	}
	lvl := g.level()
	if lvl == 0 || req.GetHeader("Replaces") != nil {
		return nil
	}
	if lvl == 1 && req.Method == sip.INVITE {
		user := req.Recipient.User
		if req.GetHeader("Referred-By") != nil || user == parkwire.ParkUser || n.ownsOrbit(user) {
			return nil
		}
	}
	g.refused.Add(1)
	e := &sipError{Code: 503, Reason: "Overloaded", RetryAfter: g.retryAfter}
	e.Headers = []sip.Header{n.warning("pool overloaded: messages wait " +
		strconv.FormatInt(time.Duration(g.delay.Load()).Milliseconds(), 10) + " ms to be handled (limit " +
		strconv.FormatInt(g.max.Milliseconds(), 10) + " ms)")}
	return e
}
