package browsertest

import (
	"context"
	"errors"

	"github.com/parkway/parkway/signaling"
)

// HangUpAll ends every call of this tab that has not ended: a ringing incoming one is
// declined, any other hung up. A test that does random things (the soak) uses it to
// start afresh whatever state its last step left.
func (p *Phone) HangUpAll(ctx context.Context) error {
	p.mu.Lock()
	var live []*Call
	for _, c := range p.calls {
		if c.last.State != signaling.CallEnded {
			live = append(live, c)
		}
	}
	p.mu.Unlock()
	var errs []error
	for _, c := range live {
		var err error
		if c.Last().State == signaling.CallRinging && c.Last().Direction == signaling.CallIncoming {
			err = c.Decline(ctx)
		} else {
			err = c.Hangup(ctx)
		}
		if err != nil && c.Last().State != signaling.CallEnded {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
