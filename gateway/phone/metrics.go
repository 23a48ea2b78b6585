package phone

import (
	"time"

	"github.com/parkway/parkway/signaling"
)

// CallsByState counts the calls the phone carries now, by state (ended ones are not
// counted). It is what /metrics shows as parkway_calls and what a drain waits on.
func (s *Service) CallsByState() map[signaling.CallState]int {
	out := map[signaling.CallState]int{}
	if s.phones == nil {
		return out
	}
	p := s.phones
	p.mu.Lock()
	users := make([]*phone, 0, len(p.users))
	for _, ph := range p.users {
		users = append(users, ph)
	}
	p.mu.Unlock()
	for _, ph := range users {
		ph.mu.Lock()
		for _, e := range ph.calls {
			if e.state != signaling.CallNone && e.state != signaling.CallEnded {
				out[e.state]++
			}
		}
		ph.mu.Unlock()
	}
	return out
}

// observeAction records an action's duration and outcome in the metrics.
func (p *phones) observeAction(req *signaling.Request, start time.Time, e *signaling.Error) {
	p.metrics.Action(req.Action, time.Since(start), e)
}
