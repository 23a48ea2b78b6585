package park

import (
	"sync"

	"github.com/parkway/parkway/park/parkwire"
)

// hub fans events out to in-process listeners. A listener that does not
// keep up loses events rather than stalling the calls (its channel has room
// for eventBuffer of them).
type hub struct {
	mu   sync.Mutex
	seq  uint64
	subs map[chan parkwire.Event]struct{}
}

const eventBuffer = 256

func (h *hub) subscribe() (<-chan parkwire.Event, func()) {
	ch := make(chan parkwire.Event, eventBuffer)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan parkwire.Event]struct{}{}
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

func (h *hub) publish(e parkwire.Event) parkwire.Event {
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
