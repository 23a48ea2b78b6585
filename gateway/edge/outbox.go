package edge

import (
	"sync"
	"sync/atomic"

	"github.com/parkway/parkway/signaling"
)

// outbox is what one session's writer has yet to write: replies in order, and the
// pushed states not yet written. The fan-out only ever touches the states, and that
// never blocks, so one slow client cannot stall the others.
//
// Pending states coalesce only within a phase: a newer state of the same phase replaces
// the pending one, but a phase change is kept, so a brief phase (outage lasts as long as
// redirection, which can be a millisecond) still reaches every softphone — the status
// line tells the whole story, not just its end. At most maxPendingStates are kept; past
// that the oldest go, and the client still ends on the newest.
//
// Replies (to the client's own requests) go through a bounded channel, and a reader that
// finds it full waits: a client that sends faster than it reads is slowed to the pace
// it reads at, as TCP would do. Waiting is bounded, because the writer gives up on a
// frame it cannot write within the peer timeout and then closes stopped.
//
// mu protects state, stateGen and closing. wake is a one-slot doorbell for them: a ring
// that finds it full knows the writer is already due to look.
//
// wmu is the right to write to the connection: the writer holds it from each wake-up to
// the end of that round (and keeps it when it ends), and a fan-out worker (fanout.go)
// takes it with TryLock to write pending states itself when the writer is idle.
// queued counts the replies handed to the queue and not yet written (the writer counts
// one down after writing it, under wmu), so a worker holding wmu knows whether a reply
// is still due before the states: replies queued before a state are always written first.
type outbox struct {
	replies chan []byte
	stopped chan struct{} // closed when the writer has ended
	queued  atomic.Int64
	wmu     sync.Mutex

	mu     sync.Mutex
	states []pendingState // states not yet written, oldest first
	// spare is the slice the last take returned, reused by the next one: every taker
	// holds wmu until it has written what it took, so by the next take it is free. A
	// fan-out then allocates nothing per session (10,000 sessions: no garbage to collect
	// with 20,000 goroutine stacks to scan).
	spare    []pendingState
	stateGen uint64 // generation of the newest state accepted, written or not
	closing  *closeRequest
	wake     chan struct{}
}

// maxPendingStates bounds the states one session may have waiting: a stalled client
// costs a few hundred bytes, never a backlog of every phase change.
const maxPendingStates = 8

type pendingState struct {
	phase signaling.Phase
	frame []byte
	// wire is frame as a whole websocket text frame (header and payload), built once
	// per fan-out for every session, or nil: then the writer frames it (fanout.go).
	wire []byte
}

// closeRequest asks the writer to close the connection once the replies queued before
// it are written: the client reads why (the error frame) before the close frame.
type closeRequest struct {
	code   int
	reason string
}

func newOutbox(limit int) *outbox {
	return &outbox{
		replies: make(chan []byte, limit),
		stopped: make(chan struct{}),
		wake:    make(chan struct{}, 1),
	}
}

func (o *outbox) ring() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// reply queues a frame, waiting while the queue is full. It reports false when the
// writer has ended (the session is over).
func (o *outbox) reply(frame []byte) bool {
	o.queued.Add(1)
	select {
	case o.replies <- frame:
		return true
	case <-o.stopped:
		o.queued.Add(-1)
		return false
	}
}

// offer queues a frame unless the queue is full or the writer has ended; it reports
// whether the queue was full.
func (o *outbox) offer(frame []byte) (full bool) {
	o.queued.Add(1)
	select {
	case o.replies <- frame:
		return false
	case <-o.stopped:
		o.queued.Add(-1)
		return false
	default:
		o.queued.Add(-1)
		return true
	}
}

// written counts down one reply the writer has taken from the queue and written (or
// failed to write).
func (o *outbox) written() { o.queued.Add(-1) }

// close asks for the connection to be closed after the replies already queued.
func (o *outbox) close(req closeRequest) {
	o.mu.Lock()
	if o.closing == nil {
		o.closing = &req
	}
	o.mu.Unlock()
	o.ring()
}

// setState offers a state of generation gen (1, 2, …). A generation not newer than one
// already seen is dropped, so a session that joins during a fan-out cannot end on a
// stale phase.
func (o *outbox) setState(gen uint64, phase signaling.Phase, frame []byte) {
	if o.queueState(gen, phase, frame) {
		o.ring()
	}
}

// queueState is setState without the ring: the fan-out (fanout.go) writes the state or
// rings the writer itself. It reports whether the state was taken.
func (o *outbox) queueState(gen uint64, phase signaling.Phase, frame []byte) bool {
	return o.queueFramed(gen, pendingState{phase: phase, frame: frame})
}

// queueFramed is queueState for a state that may come with its wire frame.
func (o *outbox) queueFramed(gen uint64, st pendingState) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if gen <= o.stateGen {
		return false
	}
	o.stateGen = gen
	if n := len(o.states); n > 0 && o.states[n-1].phase == st.phase {
		o.states[n-1] = st
	} else {
		if n == maxPendingStates {
			o.states = append(o.states[:0], o.states[1:]...)
		}
		o.states = append(o.states, st)
	}
	return true
}

// take returns the pending states, oldest first, and the close request. The writer
// calls it before draining replies: anything queued before a state or close was set is
// then already in the channel, so a welcome precedes the first state and an error
// precedes its close.
func (o *outbox) take() (states []pendingState, closing *closeRequest) {
	o.mu.Lock()
	states = o.swapStates()
	closing = o.closing
	o.mu.Unlock()
	return states, closing
}

// swapStates hands over the pending states and starts a new list in the spare slice
// (see spare); the caller holds mu.
func (o *outbox) swapStates() []pendingState {
	states := o.states
	clear(o.spare) // the frames it held can be collected
	o.states, o.spare = o.spare[:0], states
	return states
}

// takeStates is take for a fan-out worker holding wmu: the pending states, unless a
// reply is still to be written or a close is asked for (ok false) — the writer must
// write those first, so the states are left to it.
func (o *outbox) takeStates() (states []pendingState, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing != nil || o.queued.Load() != 0 {
		return nil, false
	}
	return o.swapStates(), true
}
