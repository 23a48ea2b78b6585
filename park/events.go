package park

import (
	"sync"
	"time"
)

// State is where a parked call stands. Every change is an Event.
type State string

const (
	// StateParked: the parked party hears music on hold at an orbit.
	StateParked State = "parked"
	// StateRingingBack: the pickup timeout passed and the service is
	// calling the parker (or the on-timeout URI) back.
	StateRingingBack State = "ringing-back"
	// StateRetrieved: someone took the call; the orbit is free and the park
	// service is out of the call's path.
	StateRetrieved State = "retrieved"
	// StateTimedOut: nobody took the call; it was disconnected with
	// "Park time expired" and the orbit is free.
	StateTimedOut State = "timed-out"
	// StateDisconnected: the parked party hung up while parked.
	StateDisconnected State = "disconnected"
)

// Final reports whether the call has left its orbit in this state.
func (s State) Final() bool {
	return s == StateRetrieved || s == StateTimedOut || s == StateDisconnected
}

// ParkedCall is a snapshot of one parked call.
type ParkedCall struct {
	Orbit       string    `json:"orbit"`
	ParkedParty string    `json:"parkedParty"` // URI of the party on hold
	ParkedBy    string    `json:"parkedBy"`    // URI of the parker (Referred-By), "" if unknown
	Since       time.Time `json:"since"`
	Deadline    time.Time `json:"deadline"` // when the pickup timeout fires
	State       State     `json:"state"`
	Attempts    int       `json:"attempts"`              // ring-backs made so far
	RetrievedBy string    `json:"retrievedBy,omitempty"` // who took the call
}

// Event is one change of a parked call.
type Event struct {
	Seq    uint64     `json:"seq"` // increases by one per event of a Service
	Time   time.Time  `json:"time"`
	Call   ParkedCall `json:"call"`
	Reason string     `json:"reason,omitempty"`
}

// hub fans events out to in-process listeners. A listener that does not
// keep up loses events rather than stalling the calls (its channel has room
// for eventBuffer of them).
type hub struct {
	mu   sync.Mutex
	seq  uint64
	subs map[chan Event]struct{}
}

const eventBuffer = 256

func (h *hub) subscribe() (<-chan Event, func()) {
	ch := make(chan Event, eventBuffer)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan Event]struct{}{}
	}
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, ch)
			h.mu.Unlock()
		})
	}
}

func (h *hub) publish(e Event) Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	e.Seq = h.seq
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
		}
	}
	return e
}
