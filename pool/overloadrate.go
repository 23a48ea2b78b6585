package pool

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// admissionRate is the overload gate's second line (issue #12): a limit on the new calls
// a second the pool takes, set when the pool falls behind and dropped once it has kept up.
//
// The delay the gate measures says *that* the pool took too much, not *how much*. A call
// admitted now brings the pool work for seconds after (the transfer to the park
// service, the park, the retrieve), so while the delay is still low the pool keeps
// taking calls at the rate it can carry their *first* messages, and their later
// messages then arrive on top of each other: the pool falls behind calls it already
// took, their messages wait past the phones' retransmission timers, and they fail
// halfway (BENCHMARKS.md, park at 600/s offered before this: 94 cycles failed). So
// when the pool falls behind, the gate limits new calls to half the rate it admitted
// over the last admitWindow — the calls whose work is still arriving — and halves it
// again, at most once every cutEvery, while it stays behind with calls still coming in
// at about the limit (not when the hold or a lull kept them out: then the limit is not
// what let too many in, and halving it would spiral down); once the pool has kept up for a
// whole admitWindow the limit goes, since every call it let in has done its work by
// then. Multiplicative decrease paced as TCP's is, for TCP's reason: a change shows its
// effect only a round trip later, here up to admitWindow.
//
// A pool that starts has no admissions to halve yet, and a cold pool (its heap, its
// goroutine stacks, its caches all small) falls behind later than a warm one: at
// 1,000 calls a second offered it let ≈ 300 calls in within half a second before the
// delay showed anything, and their retrieves came back two seconds later as one burst
// that failed calls (issue #12). So the gate starts (startRamp) with a limit of
// rampStart calls a second that grows by rampGrowth every second the pool keeps up —
// slowly enough that the work a call brings seconds later is seen before the limit has
// grown far past it — and goes once it passes rampEnd. Falling behind on the way ends
// the ramp: the limit is then cut as above.
//
// Only the probe goroutine changes the limit; admissions take tokens from a bucket it
// fills every tick (take), from the read loop or a TCP handler.
type admissionRate struct {
	admitted atomic.Int64 // new calls admitted so far (the ones a limit would count)
	tokens   atomic.Int64 // thousandths of a call that may be admitted now; used while limit > 0
	limit    atomic.Int64 // calls a second, in thousandths; 0: no limit

	// The probe goroutine's own state.
	ring      [admitSlots]int64 // admitted at the start of each of the last admitSlots slots
	slot      int               // ring index of the current slot
	slotStart int64             // nanotime the current slot began
	filled    int               // slots of the ring written so far (the window before it fills)
	lastCut   int64             // nanotime of the last cut; 0: never
	lastBack  int64             // nanotime the pool was last behind
	rampStep  int64             // nanotime the start-up ramp's limit last grew

	ramping atomic.Bool // the start-up ramp is on (startRamp); read by admissions too
}

const (
	// admitWindow is how long after it was admitted a call still brings the pool work
	// worth counting: the park's transfer, the park and (in the benchmark) the retrieve.
	admitWindow = 4 * time.Second
	admitSlot   = 100 * time.Millisecond
	admitSlots  = int(admitWindow / admitSlot)
	// cutEvery: a cut shows only once the calls it kept out would have arrived; another
	// within this would count the same overload twice.
	cutEvery = time.Second
	// minAdmitRate is the lowest limit, in calls a second: a pool behind for a long time
	// still takes a few, so it learns when it can take more.
	minAdmitRate = 5.0
	// minCutRate: a pool that falls behind while taking fewer new calls a second than
	// this is not behind because of them (it is starting, or a neighbour takes the
	// CPU), and its limit is left as it is; the hold still refuses new calls meanwhile.
	minCutRate = 20.0
	// The start-up ramp: a cold pool takes rampStart new calls a second, a quarter more
	// every second it keeps up, and no limit from rampEnd on (≈ 11 s after the start).
	// A call's work comes up to two seconds after it (the retrieve in the benchmark):
	// growing by a quarter a second, the limit is at most about half as much again as
	// what the pool could carry when that work shows.
	rampStart  = 300.0
	rampGrowth = 1.25
	rampEnd    = 4000.0
)

// startRamp begins the start-up ramp at now: the limit is rampStart, with a bucket of
// 100 ms of calls in it. Only the probe goroutine calls it, before its first tick.
func (r *admissionRate) startRamp(now int64) {
	r.rampStep = now
	r.ramping.Store(true)
	r.limit.Store(int64(rampStart * 1000))
	r.tokens.Store(int64(rampStart * 100))
}

// warming reports whether the limit is the start-up ramp's.
func (r *admissionRate) warming() bool { return r.ramping.Load() }

// take reports whether a new call may be admitted now, and counts it when it may.
func (r *admissionRate) take() bool {
	if r.limit.Load() > 0 {
		for {
			t := r.tokens.Load()
			if t < 1000 {
				return false
			}
			if r.tokens.CompareAndSwap(t, t-1000) {
				break
			}
		}
	}
	r.admitted.Add(1)
	return true
}

// rate is the current limit in calls a second; 0: none.
func (r *admissionRate) rate() float64 { return float64(r.limit.Load()) / 1000 }

// tick is the probe's step every dt: it notes the admissions, cuts the limit when the pool
// is behind, drops it when the pool has kept up for admitWindow, and fills the bucket.
func (r *admissionRate) tick(now int64, dt time.Duration, behind bool) {
	if r.slotStart == 0 {
		r.slotStart = now
		r.ring[0] = r.admitted.Load()
		r.filled = 1
	}
	for now-r.slotStart >= int64(admitSlot) {
		r.slot = (r.slot + 1) % admitSlots
		r.slotStart += int64(admitSlot)
		r.ring[r.slot] = r.admitted.Load()
		r.filled = min(r.filled+1, admitSlots)
	}
	limit := r.rate()
	if r.ramping.Load() {
		switch {
		case behind:
			r.ramping.Store(false) // the cuts take over from here
		case now-r.rampStep >= int64(time.Second):
			r.rampStep = now
			if limit *= rampGrowth; limit >= rampEnd {
				r.ramping.Store(false)
				r.limit.Store(0)
				return
			}
		}
	}
	switch {
	case r.ramping.Load():
		// Keeping up: the ramp's limit holds until its next step.
	case behind:
		r.lastBack = now
		if r.lastCut == 0 || now-r.lastCut >= int64(cutEvery) {
			admitted := r.admittedRate(now)
			if admitted < minCutRate || limit > 0 && admitted < limit/2 {
				// Not the calls' doing: too few to matter (a start, a neighbour taking
				// the CPU), or fewer than the limit let in (the hold kept them out), so
				// the limit was not what let too many in. The hold is enough.
				break
			}
			if limit == 0 || admitted < limit {
				limit = admitted // the limit did not bind: what was taken is what counts
			}
			limit = max(minAdmitRate, limit/2)
			r.lastCut = now
		}
	case limit > 0 && now-r.lastBack >= int64(admitWindow):
		// Kept up for a whole admitWindow: every call let in under the limit has done
		// its work, so the limit has done its job; the next fall sets a fresh one. (A
		// slow climb back would keep refusing calls long after a short flood.)
		r.limit.Store(0)
		return
	}
	if limit == 0 {
		return
	}
	r.limit.Store(int64(math.Round(limit * 1000)))
	// A bucket of 100 ms of calls: a burst is taken, a backlog is not saved up.
	burst := int64(max(1000, limit*100))
	add := int64(limit * 1000 * dt.Seconds())
	if t := r.tokens.Load(); t < burst {
		r.tokens.Add(min(add, burst-t))
	}
}

// admittedRate is the new calls a second admitted over the ring's window (the part of it
// the gate has lived through).
func (r *admissionRate) admittedRate(now int64) float64 {
	oldest := r.ring[(r.slot+1)%admitSlots]
	span := time.Duration(admitSlots-1)*admitSlot + time.Duration(now-r.slotStart)
	if r.filled < admitSlots {
		oldest = r.ring[(r.slot-r.filled+1+admitSlots)%admitSlots]
		span = time.Duration(r.filled-1)*admitSlot + time.Duration(now-r.slotStart)
	}
	if span <= 0 {
		return 0
	}
	return float64(r.admitted.Load()-oldest) / span.Seconds()
}

// admittedCalls remembers the new calls the gate let in, by transaction (the top Via's
// branch and sent-by, the Call-ID and CSeq), so that a retransmission of one — an INVITE
// sent again because its answer was slow to come, which is exactly when the pool is
// behind — reaches its transaction instead of being refused: a 503 to the copy of a
// request already taken would fail the call halfway (issue #12, seen at 600/s). Kept
// for 64×T1 (32 s, RFC 3261 §17.1.1.2's Timer B: no copy comes later) in two
// generations, the older dropped whole.
type admittedCalls struct {
	mu       sync.Mutex
	cur, old map[callKey]struct{}
	since    int64 // nanotime cur was started
}

type callKey struct{ branch, sentBy, callID, cseq string }

const admittedKeep = 32 * time.Second

func keyOfCall(req *sip.Request) (callKey, bool) {
	v, cid, cs := req.Via(), req.CallID(), req.CSeq()
	if v == nil || cid == nil || cs == nil {
		return callKey{}, false
	}
	b, _ := v.Params.Get("branch")
	return callKey{branch: b, sentBy: v.SentBy(), callID: cid.Value(), cseq: cs.Value()}, true
}

// seen reports whether req is a copy of a call already admitted.
func (a *admittedCalls) seen(req *sip.Request, now int64) bool {
	k, ok := keyOfCall(req)
	if !ok {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rotateLocked(now)
	_, in := a.cur[k]
	if !in {
		_, in = a.old[k]
	}
	return in
}

// add remembers req as admitted.
func (a *admittedCalls) add(req *sip.Request, now int64) {
	k, ok := keyOfCall(req)
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rotateLocked(now)
	a.cur[k] = struct{}{}
}

func (a *admittedCalls) rotateLocked(now int64) {
	if a.cur == nil {
		a.cur, a.since = map[callKey]struct{}{}, now
	}
	switch {
	case now-a.since >= 2*int64(admittedKeep):
		a.old, a.cur, a.since = nil, map[callKey]struct{}{}, now
	case now-a.since >= int64(admittedKeep):
		a.old, a.cur, a.since = a.cur, map[callKey]struct{}{}, now
	}
}
