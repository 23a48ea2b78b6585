package gateway

import "sync"

// outbox is what one session's writer has yet to write: replies in order, and the
// latest pushed state. The fan-out only ever touches the state slot, and that never
// blocks, so one slow client cannot stall the others.
//
// Replies (to the client's own requests) go through a bounded channel, and a reader that
// finds it full waits: a client that sends faster than it reads is slowed to the pace
// it reads at, as TCP would do. Waiting is bounded, because the writer gives up on a
// frame it cannot write within the peer timeout and then closes stopped.
//
// mu protects state, stateGen and closing. wake is a one-slot doorbell for them: a ring
// that finds it full knows the writer is already due to look.
type outbox struct {
	replies chan []byte
	stopped chan struct{} // closed when the writer has ended

	mu       sync.Mutex
	state    []byte // the newest state not yet written, nil if none
	stateGen uint64 // generation of the newest state accepted, written or not
	closing  *closeRequest
	wake     chan struct{}
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
	select {
	case o.replies <- frame:
		return true
	case <-o.stopped:
		return false
	}
}

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
func (o *outbox) setState(gen uint64, frame []byte) {
	o.mu.Lock()
	if gen <= o.stateGen {
		o.mu.Unlock()
		return
	}
	o.stateGen = gen
	o.state = frame
	o.mu.Unlock()
	o.ring()
}

// take returns the pending state and close request. The writer calls it before
// draining replies: anything queued before a state or close was set is then already in
// the channel, so a welcome precedes the first state and an error precedes its close.
func (o *outbox) take() (state []byte, closing *closeRequest) {
	o.mu.Lock()
	state, o.state = o.state, nil
	closing = o.closing
	o.mu.Unlock()
	return state, closing
}
