package cluster

import (
	"sync"

	"github.com/parkway/parkway/gateway/dr"
)

// subscribers delivers snapshots to Subscribe's callbacks with dr.Controller's
// contract: in order, never concurrently with itself, nothing dropped, never under
// the DR's lock; the first delivery on the subscriber's goroutine.
type subscribers struct {
	mu         *sync.Mutex // the DR's
	idle       *sync.Cond  // broadcast when deliveries reaches 0
	set        map[*subscriber]struct{}
	deliveries int
}

type subscriber struct {
	fn        func(dr.Snapshot)
	queue     []dr.Snapshot
	busy      bool
	cancelled bool
}

func (s *subscribers) init(mu *sync.Mutex) {
	s.mu, s.idle, s.set = mu, sync.NewCond(mu), map[*subscriber]struct{}{}
}

func (s *subscribers) subscribe(fn func(dr.Snapshot), first dr.Snapshot) (cancel func()) {
	sub := &subscriber{fn: fn, busy: true}
	s.mu.Lock()
	s.set[sub] = struct{}{}
	sub.queue = append(sub.queue, first)
	s.mu.Unlock()
	s.deliver(sub)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		sub.cancelled, sub.queue = true, nil
		delete(s.set, sub)
	}
}

func (s *subscribers) publishLocked(snap dr.Snapshot) {
	for sub := range s.set {
		sub.queue = append(sub.queue, snap)
		if sub.busy {
			continue
		}
		sub.busy = true
		s.deliveries++
		go func() {
			s.deliver(sub)
			s.mu.Lock()
			if s.deliveries--; s.deliveries == 0 {
				s.idle.Broadcast()
			}
			s.mu.Unlock()
		}()
	}
}

func (s *subscribers) deliver(sub *subscriber) {
	for {
		s.mu.Lock()
		if sub.cancelled || len(sub.queue) == 0 {
			sub.busy, sub.queue = false, nil
			s.mu.Unlock()
			return
		}
		snap := sub.queue[0]
		sub.queue = sub.queue[1:]
		s.mu.Unlock()
		sub.fn(snap)
	}
}

// wait returns once no delivery is in flight.
func (s *subscribers) wait() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.deliveries > 0 {
		s.idle.Wait()
	}
}
