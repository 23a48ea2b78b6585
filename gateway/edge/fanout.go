package edge

import (
	"runtime"
	"sync"
)

// Fan-out of a pushed state (BenchmarkFanout in package gateway). The hub puts the new
// state into every session's outbox under its lock without waking anyone, then a few
// workers — one per CPU — go through those sessions and write the state themselves
// wherever the session's writer is idle, instead of waking 10,000 writer goroutines
// (whose wake-ups, stack growth and scheduling cost more than the writes). A worker
// writes only when it cannot block and cannot reorder:
//
//   - it holds the session's write right (outbox.wmu, by TryLock: a busy writer is rung
//     instead and writes the state after its current round);
//   - no reply is queued and no close is asked for (outbox.takeStates): those come
//     first, so the writer is rung for them;
//   - the connection's kernel send queue is empty (sendQueueEmpty), so states of at
//     most directMaxFrame bytes in all fit in the socket's buffer and the write returns
//     at once. A client that is slow to read has unread data queued and is left to its
//     writer goroutine, where the outbox's limits and the write watchdog apply as ever.
//
// The states written are the outbox's own (coalescing, generations and the pending
// limit unchanged), so per-session order is the same whoever writes.

// directMaxFrame is the most state bytes a worker writes to one session: half of Linux's
// smallest socket send buffer (SOCK_MIN_SNDBUF, about 4.5 KiB).
const directMaxFrame = 2048

// fanoutInline is how many sessions are served by the publishing goroutine alone;
// more are split between workers.
const fanoutInline = 256

// fanOut writes the pending states of sessions (each handed one by queueState) and
// returns when every session has been written to or handed to its writer.
func fanOut(sessions []*Session) {
	workers := min(runtime.GOMAXPROCS(0), (len(sessions)+fanoutInline-1)/fanoutInline)
	if workers <= 1 {
		for _, s := range sessions {
			s.pushStates()
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (len(sessions) + workers - 1) / workers
	for part := range slicesChunk(sessions, chunk) {
		wg.Go(func() {
			for _, s := range part {
				s.pushStates()
			}
		})
	}
	wg.Wait()
}

func slicesChunk(s []*Session, n int) func(func([]*Session) bool) {
	return func(yield func([]*Session) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// pushStates writes the session's pending states when its writer is idle and the
// write cannot block (see above); otherwise it rings the writer, which writes them.
func (s *Session) pushStates() {
	o := s.out
	if s.raw == nil || !o.wmu.TryLock() {
		o.ring()
		return
	}
	if !sendQueueEmpty(s.raw) {
		o.wmu.Unlock()
		o.ring()
		return
	}
	states, ok := o.takeStates(directMaxFrame)
	if !ok {
		o.wmu.Unlock()
		o.ring()
		return
	}
	for _, st := range states {
		if !s.write(st.frame) {
			break // the connection is closed; the reader fails and the writer ends the session
		}
	}
	o.wmu.Unlock()
}
