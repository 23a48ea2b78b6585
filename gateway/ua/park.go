package ua

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/sip/calltrace"
	"github.com/parkway/parkway/sip/transfer"
)

// Park parks the call's far end on the park service of the pool this user is
// registered with: a blind transfer to sip:park@domain, or to sip:<orbit>@domain for a
// directed park (park/doc.go). It returns the orbit, taken from the park service's
// MESSAGE to this user ("Parked at 7005", RFC 3428) or from the transferee's NOTIFY;
// the call then ends with reason "parked" and the orbit in its ended event. A refusal
// (no orbit available 480, double park 486, pool draining 503…) is a *StatusError and
// leaves the call up.
//
// One Park per user at a time: the MESSAGE names the orbit but not the call.
func (c *Call) Park(ctx context.Context, orbit string) (string, error) {
	target := parkwire.ParkUser
	if orbit != "" {
		target = orbit
	}
	pool := c.u.Pool()
	uri := sip.Uri{Scheme: "sip", User: target, Host: pool.domain()}
	for len(c.u.messages) > 0 { // forget an earlier park's MESSAGE
		<-c.u.messages
	}
	res, err := c.refer(ctx, transfer.FormatReferTo(uri, nil), "parked")
	if err != nil {
		return "", fmt.Errorf("ua: park: %w", err)
	}
	if res.code >= 300 {
		return "", fmt.Errorf("ua: park: %w", &StatusError{Method: "park", Code: res.code, Reason: "refused"})
	}
	got := res.orbit
	if got == "" {
		// The park service tells the parker by MESSAGE right after the parked party
		// answered; give it a moment, then fall back to the orbit asked for.
		wait := time.NewTimer(5 * time.Second)
		defer wait.Stop()
		select {
		case msg := <-c.u.messages:
			got = msg.orbit
		case <-wait.C:
			got = orbit
		case <-ctx.Done():
			got = orbit
		}
	}
	c.mu.Lock()
	c.orbit = got
	c.mu.Unlock()
	// The far end is parked: our part of the call is over whatever becomes of the
	// BYE, so a caller's cancelled ctx must not stop it, yet a loop stuck on a dead
	// peer must not hold Park forever.
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), waitTimeout)
	defer cancel()
	if err := c.End(endCtx, "parked"); err != nil {
		c.u.m.log.Warn("ua: the call did not end after its park; the far end is parked all the same",
			"call", c.id, calltrace.Attr, c.trace, "orbit", got, "error", err)
	}
	return got, nil
}

// onMessage takes a MESSAGE for a user (RFC 3428): the park service's "Parked at".
func (m *Manager) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	u := m.User(req.Recipient.User)
	if u == nil {
		respond(req, tx, 404, "Not Found")
		return
	}
	respond(req, tx, 200, "OK")
	orbit := headerValue(req, parkwire.OrbitHeader)
	if orbit == "" {
		if rest, ok := strings.CutPrefix(string(req.Body()), "Parked at "); ok {
			orbit = strings.TrimSpace(rest)
		}
	}
	if orbit == "" {
		return
	}
	select {
	case u.messages <- parkMessage{orbit: orbit, text: string(req.Body())}:
	default:
	}
}

// EndParked ends every call of this gateway that is parked on pool's park service,
// with reason (e.g. "the park pool failed"), and returns how many it ended. The DR
// controller's outage is the moment: the park service is gone and will never send the
// parked party a BYE (ARCHITECTURE.md §2, "parked, not yet retrieved: disconnected").
func (m *Manager) EndParked(ctx context.Context, pool, reason string) int {
	var parked []*Call
	for _, u := range m.Users() {
		for _, c := range u.Calls() {
			if p, _, ok := c.ParkedOn(); ok && p == pool {
				parked = append(parked, c)
			}
		}
	}
	for _, c := range parked {
		c.cancel(&endCause{reason})
	}
	for _, c := range parked {
		select {
		case <-c.done:
		case <-ctx.Done():
		}
	}
	return len(parked)
}
