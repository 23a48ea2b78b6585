package ua

import "sync"

// queue hands values to a consumer in order without ever blocking the producer: SIP
// handlers publish call events and incoming calls from sipgo's goroutines and must not
// stall on a slow websocket session. Its one goroutine belongs to the user.
type queue[T any] struct {
	mu    sync.Mutex
	items []T
	wake  chan struct{}
	out   chan T
}

func newQueue[T any]() *queue[T] {
	return &queue[T]{wake: make(chan struct{}, 1), out: make(chan T)}
}

func (q *queue[T]) push(v T) {
	q.mu.Lock()
	q.items = append(q.items, v)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run delivers until stop is closed; it then closes out. Values not taken by then
// are dropped: the consumer is gone.
func (q *queue[T]) run(stop <-chan struct{}) {
	defer close(q.out)
	for {
		q.mu.Lock()
		var next T
		have := len(q.items) > 0
		if have {
			next = q.items[0]
			var zero T
			q.items[0] = zero
			q.items = q.items[1:]
		}
		q.mu.Unlock()
		if !have {
			select {
			case <-q.wake:
				continue
			case <-stop:
				return
			}
		}
		select {
		case q.out <- next:
		case <-stop:
			return
		}
	}
}
