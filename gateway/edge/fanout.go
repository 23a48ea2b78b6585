package edge

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Fan-out of a pushed state (BenchmarkFanout in package gateway). The hub puts the new
// state into every session's outbox under its lock without waking anyone, then a few
// workers — one per CPU — go through those sessions and write the state themselves
// wherever the session's writer is idle, instead of waking 10,000 writer goroutines
// (whose wake-ups, stack growth and scheduling cost as much as the writes). A worker
// writes only when it cannot reorder anything:
//
//   - it holds the session's write right (outbox.wmu, by TryLock: a busy writer is rung
//     instead and writes the state after its current round);
//   - no reply is queued and no close is asked for (outbox.takeStates): those come
//     first, so the writer is rung for them.
//
// The states written are the outbox's own (coalescing, generations and the pending
// limit unchanged), so per-session order is the same whoever writes.
//
// A client that has stopped reading can block a write, and one blocked worker must not
// hold up everyone else's state: the publishing goroutine watches the workers, and one
// that has been in the same write for stuckWrite is left to finish it alone — as that
// session's writer goroutine would have been, under the write watchdog's PeerTimeout —
// while a new worker takes over the rest of the list. So a fan-out is delayed by at most
// about stuckWrite per client that does not read, never by PeerTimeout.

// stuckWrite is how long a worker may be in one session's write before a new worker
// takes over the rest of the fan-out. A write to a socket with room takes microseconds.
const stuckWrite = 2 * time.Millisecond

// fanoutInline is how many sessions each worker is started for: a fan-out to fewer
// sessions than this has one worker.
const fanoutInline = 256

// startFanout starts writing the pending states of sessions (each handed one by
// queueState); its workers, and any left behind in a blocked write, are counted in
// workers. The hub calls it under its lock, then wait with the lock released.
func startFanout(sessions []*Session, workers *sync.WaitGroup) *fanout {
	f := &fanout{sessions: sessions, done: make(chan struct{}), workers: workers}
	f.left.Store(int64(len(sessions)))
	for range min(runtime.GOMAXPROCS(0), (len(sessions)+fanoutInline-1)/fanoutInline) {
		f.running = append(f.running, f.start())
	}
	return f
}

// wait returns when every session has been written to, handed to its writer, or is
// being written to by a worker left behind in a blocked write.
func (f *fanout) wait() {
	if len(f.sessions) == 0 {
		return
	}
	tick := time.NewTicker(stuckWrite / 2)
	defer tick.Stop()
	for {
		select {
		case <-f.done:
			return
		case now := <-tick.C:
			limit := now.Add(-stuckWrite).UnixNano()
			for i, w := range f.running {
				// Taking the push's start time away tells the worker it was left
				// behind: the session counts as served, by the worker's write.
				if since := w.since.Load(); since != 0 && since < limit && w.since.CompareAndSwap(since, 0) {
					w.left.Store(true)
					f.served()
					f.running[i] = f.start()
				}
			}
		}
	}
}

type fanout struct {
	sessions []*Session
	next     atomic.Int64 // index of the next session to serve
	left     atomic.Int64 // sessions not yet served
	done     chan struct{}
	workers  *sync.WaitGroup
	running  []*fanWorker // the workers not left behind; only wait touches it after start
}

type fanWorker struct {
	// since is when the push in progress began (Unix ns), 0 between pushes; wait swaps
	// it to 0 when it leaves the worker behind, which the worker sees when its push ends.
	since atomic.Int64
	left  atomic.Bool // replaced: start no other push
}

func (f *fanout) start() *fanWorker {
	w := &fanWorker{}
	// A replacement is started while the stuck worker is still counted, so the
	// WaitGroup is never at zero here once the hub has started the fan-out.
	f.workers.Go(func() {
		for !w.left.Load() {
			i := f.next.Add(1) - 1
			if i >= int64(len(f.sessions)) {
				return
			}
			w.since.Store(time.Now().UnixNano())
			f.sessions[i].pushStates()
			if w.since.Swap(0) == 0 {
				return // left behind, and counted served by wait
			}
			f.served()
		}
	})
	return w
}

// served counts one session served; the last one ends wait.
func (f *fanout) served() {
	if f.left.Add(-1) == 0 {
		close(f.done)
	}
}

// pushStates writes the session's pending states when its writer is idle and nothing
// must go before them (see above); otherwise it rings the writer, which writes them.
func (s *Session) pushStates() {
	o := s.out
	if !o.wmu.TryLock() {
		o.ring()
		return
	}
	defer o.wmu.Unlock()
	states, ok := o.takeStates()
	if !ok {
		o.ring()
		return
	}
	for _, st := range states {
		ok := false
		if st.wire != nil && s.upgraded != nil {
			ok = s.writeWire(st.wire) // wire.go
		} else {
			ok = s.write(st.frame)
		}
		if !ok {
			return // the connection is closed; the reader fails and the writer ends the session
		}
	}
}
