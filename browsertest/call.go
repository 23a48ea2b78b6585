package browsertest

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/parkway/parkway/signaling"
)

// Call is one call as this tab sees it: the gateway's latest call message and, once
// this tab placed, answered or retrieved it, the call's audio.
//
// Every action sends one request and waits until the gateway either refuses it — the
// returned error is then the gateway's *signaling.Error, code and reason verbatim — or
// pushes the call state the action leads to.
type Call struct {
	p  *Phone
	ID string

	audio *Audio // set once by connect; nil for a call this tab never answered

	// Guarded by p.mu.
	last    signaling.Call
	history []signaling.CallState
	answer  string // the gateway's SDP answer to this tab's offer
	taken   bool   // WaitIncoming returned it
}

// connect applies the gateway's answer to a's offer and starts the tone.
func (c *Call) connect(ctx context.Context, a *Audio) error {
	c.p.mu.Lock()
	sdp := c.answer
	c.audio = a
	c.p.mu.Unlock()
	if sdp == "" {
		return fmt.Errorf("browsertest: %s: the gateway's reply for call %s carried no SDP answer", c.p.user, c.ID)
	}
	if err := a.Answered(ctx, sdp); err != nil {
		return err
	}
	a.Talk(c.p.hz)
	return nil
}

// Last is the latest call message for this call (its SDP left out).
func (c *Call) Last() signaling.Call {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	return c.last
}

// History lists every state the gateway pushed for this call, in order.
func (c *Call) History() []signaling.CallState {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	return slices.Clone(c.history)
}

// WaitState waits until the call is in state s and returns that message. A call that
// ends while waiting for another state is an error naming its reason.
func (c *Call) WaitState(ctx context.Context, s signaling.CallState) (signaling.Call, error) {
	var last signaling.Call
	err := c.p.wait(ctx, func() bool {
		last = c.last
		return last.State == s || last.State == signaling.CallEnded
	})
	if err == nil && last.State != s {
		err = fmt.Errorf("the call ended (reason %q)", last.Reason)
	}
	if err != nil {
		return last, fmt.Errorf("browsertest: %s waiting for call %s to be %s (last %s): %w", c.p.user, c.ID, s, last.State, err)
	}
	return last, nil
}

// WaitUpdate waits until the call's latest message satisfies ok and returns it; what
// names the wait in the error. For what a message says beyond its state (its reason),
// which may follow what the call's media already shows.
func (c *Call) WaitUpdate(ctx context.Context, what string, ok func(signaling.Call) bool) (signaling.Call, error) {
	var last signaling.Call
	err := c.p.wait(ctx, func() bool {
		last = c.last
		return ok(last)
	})
	if err != nil {
		return last, fmt.Errorf("browsertest: %s waiting for call %s to be %s (last %s, reason %q): %w", c.p.user, c.ID, what, last.State, last.Reason, err)
	}
	return last, nil
}

// Answer answers a ringing call with this tab's audio.
func (c *Call) Answer(ctx context.Context) error {
	a, err := NewAudio(c.p.api, PCMU)
	if err != nil {
		return err
	}
	req := &signaling.Request{Action: signaling.ActionAnswer, Call: c.ID}
	if req.SDP, err = a.Offer(ctx); err != nil {
		a.Close()
		return err
	}
	if _, err := c.p.offered(ctx, req); err != nil {
		a.Close()
		return err
	}
	return c.connect(ctx, a)
}

// Decline refuses a ringing call.
func (c *Call) Decline(ctx context.Context) error {
	return c.act(ctx, &signaling.Request{Action: signaling.ActionDecline, Call: c.ID}, signaling.CallEnded)
}

// Hangup ends the call.
func (c *Call) Hangup(ctx context.Context) error {
	return c.act(ctx, &signaling.Request{Action: signaling.ActionHangup, Call: c.ID}, signaling.CallEnded)
}

// Hold puts the call on hold.
func (c *Call) Hold(ctx context.Context) error {
	return c.act(ctx, &signaling.Request{Action: signaling.ActionHold, Call: c.ID}, signaling.CallHeld)
}

// Resume takes the call off hold.
func (c *Call) Resume(ctx context.Context) error {
	return c.act(ctx, &signaling.Request{Action: signaling.ActionResume, Call: c.ID}, signaling.CallActive)
}

// Transfer blind-transfers the far end to target; the call ends here ("transferred").
func (c *Call) Transfer(ctx context.Context, target string) error {
	return c.act(ctx, &signaling.Request{Action: signaling.ActionTransfer, Call: c.ID, Target: target}, signaling.CallEnded)
}

// Park parks the far end, on orbit when one is given (directed park), and returns the
// orbit the pool's park service chose, which the gateway reports with the end of the
// call (reason "parked").
func (c *Call) Park(ctx context.Context, orbit string) (string, error) {
	if err := c.act(ctx, &signaling.Request{Action: signaling.ActionPark, Call: c.ID, Orbit: orbit}, signaling.CallEnded); err != nil {
		return "", err
	}
	last := c.Last()
	if last.Reason != "parked" || last.Orbit == "" {
		return "", fmt.Errorf("browsertest: %s: park ended the call with reason %q and orbit %q", c.p.user, last.Reason, last.Orbit)
	}
	return last.Orbit, nil
}

// act sends req and waits until the gateway refuses it or the call reaches want.
func (c *Call) act(ctx context.Context, req *signaling.Request, want signaling.CallState) error {
	return c.p.request(ctx, req, func() bool { return c.last.State == want })
}

// Heard reports whether hz dominates the last 50 ms of audio this call played.
func (c *Call) Heard(hz float64) bool {
	a := c.media()
	return a != nil && a.Hears(hz)
}

// Quiet reports whether no audio has arrived on this call for d.
func (c *Call) Quiet(d time.Duration) bool {
	a := c.media()
	return a == nil || a.QuietFor(d)
}

// Forget drops what the call has heard so far, so Heard answers for what comes next.
func (c *Call) Forget() {
	if a := c.media(); a != nil {
		a.Forget()
	}
}

// WaitHeard waits until hz dominates what the call plays.
func (c *Call) WaitHeard(ctx context.Context, hz float64) error {
	return c.poll(ctx, fmt.Sprintf("to hear %g Hz", hz), func() bool { return c.Heard(hz) })
}

// WaitQuiet waits until no audio has arrived for d.
func (c *Call) WaitQuiet(ctx context.Context, d time.Duration) error {
	return c.poll(ctx, fmt.Sprintf("%v of silence", d), func() bool { return c.Quiet(d) })
}

func (c *Call) poll(ctx context.Context, what string, ok func() bool) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !ok() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("browsertest: %s waiting on call %s %s: %w", c.p.user, c.ID, what, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

func (c *Call) media() *Audio {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	return c.audio
}
