package ua

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
)

// Survivable park (issue #10, opt-in; ARCHITECTURE.md §3): a call of ours parked on a
// pool that dies can be parked again on the other pool's park service, because the
// parked party's leg is ours — the media leg toward the browser stays, only the SIP
// dialog and the RTP far end change, as when a REFER is followed.

// parkedSince is when the park service says the call was first parked (its answer's
// parkwire.ParkedSinceHeader), or now when it did not say.
func parkedSince(res *sip.Response) string {
	if v := headerValue(res, parkwire.ParkedSinceHeader); v != "" {
		if _, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return v
		}
	}
	return time.Now().UTC().Format(time.RFC3339Nano)
}

// Repark handles the death of pool dead for every call of this gateway parked on it.
// With to naming the other pool, each such call is parked again on to's park service
// (an INVITE to sip:park@ from the call's own leg, carrying the original park time and,
// in Referred-By, the original parker), so the parked party hears to's music and the
// pickup timeout goes on counting from the first park. A call whose re-park fails, and
// every call when to is "", is ended with reason, as EndParked does. It returns how
// many calls were re-parked and how many ended.
func (m *Manager) Repark(ctx context.Context, dead, to, reason string) (moved, ended int) {
	if to == "" {
		return 0, m.EndParked(ctx, dead, reason)
	}
	pool, ok := m.Pool(to)
	var calls []*Call
	for _, u := range m.Users() {
		for _, c := range u.Calls() {
			if p, _, parked := c.ParkedOn(); parked && p == dead {
				calls = append(calls, c)
			}
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() {
			err := fmt.Errorf("no pool %q", to)
			var orbit string
			if ok {
				rctx, cancel := context.WithTimeout(ctx, m.cfg.RequestTimeout)
				orbit, err = c.repark(rctx, dead, pool)
				cancel()
			}
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				m.log.Info("ua: parked call re-parked after its park pool failed", "call", c.id, "from", dead, "to", to, "orbit", orbit)
				moved++
				return
			}
			m.log.Warn("ua: re-park failed; ending the parked call", "call", c.id, "from", dead, "to", to, "error", err)
			c.cancel(&endCause{reason})
			ended++
		})
	}
	wg.Wait()
	for _, c := range calls {
		if _, _, parked := c.ParkedOn(); !parked {
			select {
			case <-c.done:
			case <-ctx.Done():
			}
		}
	}
	return moved, ended
}

// repark moves the call, parked on pool dead, to pool's park service, and forgets the
// dead park service's dialog without a BYE: nobody is there to answer it.
func (c *Call) repark(ctx context.Context, dead string, pool Pool) (string, error) {
	c.mu.Lock()
	old, from, by, since := c.d, c.parkedPool, c.parkedBy, c.parkedSince
	c.mu.Unlock()
	if from != dead || old == nil {
		return "", fmt.Errorf("ua: re-park: %w", ErrNotActive)
	}
	target := sip.Uri{Scheme: "sip", User: parkwire.ParkUser, Host: pool.domain()}
	orbit, err := c.moveTo(ctx, target, pool, false, by, parkwire.ReasonReparked,
		sip.NewHeader(parkwire.ParkedSinceHeader, since))
	if err != nil {
		return "", fmt.Errorf("ua: re-park on %s: %w", pool.Name, err)
	}
	if orbit == "" {
		// Whatever answered is no park service; the call is no longer parked anywhere
		// we know of.
		return "", fmt.Errorf("ua: re-park on %s: the answer named no orbit", pool.Name)
	}
	_ = c.do(context.WithoutCancel(ctx), func() error {
		c.mu.Lock()
		for i, d := range c.old {
			if d == old {
				c.old = append(c.old[:i], c.old[i+1:]...)
				break
			}
		}
		c.mu.Unlock()
		c.u.m.removeDialog(old)
		return nil
	})
	return orbit, nil
}
