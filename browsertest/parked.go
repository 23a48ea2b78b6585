package browsertest

import (
	"context"
	"fmt"

	"github.com/parkway/parkway/signaling"
)

// WaitParked waits until the gateway has pushed a parked-calls list that ok accepts, at
// any time since the tab connected, and returns the first such list.
func (p *Phone) WaitParked(ctx context.Context, what string, ok func(*signaling.Parked) bool) (*signaling.Parked, error) {
	var got *signaling.Parked
	err := p.wait(ctx, func() bool {
		for _, l := range p.parked {
			if ok(l) {
				got = l
				return true
			}
		}
		return false
	})
	if err != nil {
		p.mu.Lock()
		var last *signaling.Parked
		if n := len(p.parked); n > 0 {
			last = p.parked[n-1]
		}
		p.mu.Unlock()
		return nil, fmt.Errorf("browsertest: %s waiting for a parked list with %s (last %+v): %w", p.user, what, last, err)
	}
	return got, nil
}

// LastParked is the parked-calls list the gateway pushed last, nil before the first.
func (p *Phone) LastParked() *signaling.Parked {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.parked); n > 0 {
		return p.parked[n-1]
	}
	return nil
}
