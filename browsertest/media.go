package browsertest

import (
	"context"
	"fmt"

	"github.com/parkway/parkway/signaling"
)

// WaitNeedsMedia waits for a call of this tab's user that no tab carries audio for
// (the gateway says media "needed": its tab went away, or the gateway adopted it from
// a gateway that died) and that this tab does not carry either, and returns it.
func (p *Phone) WaitNeedsMedia(ctx context.Context) (*Call, error) {
	var got *Call
	err := p.wait(ctx, func() bool {
		for _, c := range p.calls {
			if c.audio == nil && c.last.Media == signaling.MediaNeeded && c.last.State != signaling.CallEnded {
				got = c
				return true
			}
		}
		return false
	})
	if err != nil {
		return nil, fmt.Errorf("browsertest: %s waiting for a call that needs media: %w", p.user, err)
	}
	return got, nil
}

// TakeMedia gives the call this tab's audio, as a tab re-attaching a call does: a new
// PeerConnection whose offer goes out in a media action. It returns once the answer
// is applied; the tab's tone is then sent.
func (c *Call) TakeMedia(ctx context.Context) error {
	a, err := NewAudio(c.p.api, PCMU)
	if err != nil {
		return err
	}
	req := &signaling.Request{Action: signaling.ActionMedia, Call: c.ID}
	if req.SDP, err = a.Offer(ctx); err != nil {
		a.Close()
		return err
	}
	got, err := c.p.offered(ctx, req)
	if err != nil {
		a.Close()
		return err
	}
	if got != c {
		a.Close()
		return fmt.Errorf("browsertest: %s: the media action for call %s was answered for call %s", c.p.user, c.ID, got.ID)
	}
	c.p.mu.Lock()
	old := c.audio
	c.p.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return c.connect(ctx, a)
}
