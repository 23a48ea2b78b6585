package ua

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/sip/audiosdp"
	"github.com/parkway/parkway/sip/calltrace"
)

// Call is one call of a user, outgoing or incoming, from dialing or ringing to ended.
// Its ID and its MediaLeg stay the same for its whole life; the SIP dialog under it
// may change (a REFER followed, an INVITE with Replaces accepted).
//
// Concurrency (STYLE.md habit 4): the call owns one context, which ends it, and one
// goroutine running a select loop (run); every change to the call's SIP or media state
// is a function run on that loop, so operations and incoming requests never interleave.
// Helper goroutines (dialog watchers, a REFER being followed) belong to the call's
// WaitGroup and post their results back to the loop.
type Call struct {
	u        *User
	id       string
	outgoing bool
	trace    string // the call's trace id (package calltrace), fixed at creation

	ctx    context.Context
	cancel context.CancelCauseFunc
	ops    chan func()
	done   chan struct{}
	wg     sync.WaitGroup

	reinviting atomic.Bool // a re-INVITE of ours is pending: answer theirs 491 (RFC 3261 §14.2)

	// mu guards the fields below for readers off the loop; only the loop writes them.
	mu          sync.Mutex
	d           *dialog
	old         []*dialog // dialogs this call left behind, kept until they end
	leg         MediaLeg
	local       audiosdp.Local
	remote      audiosdp.Description
	peer        string
	state       signaling.CallState
	holding     bool // we put the call on hold
	remoteHold  bool // the far end put us on hold
	reason      string
	orbit       string // where this user parked the call (Park)
	referReason string // how the call ends if the pending REFER succeeds
	referOK     bool   // the transferee reported success (NOTIFY 2xx)
	parkedPool  string // this call is parked: its far end is this pool's park service…
	parkedAt    string // …at this orbit,
	parkedBy    string // …by this parker (Referred-By, "" if unknown),
	parkedSince string // …since this time (parkwire.ParkedSinceHeader, RFC 3339)
}

// endCause carries the reason a call ended through its context's cause.
type endCause struct{ reason string }

func (e *endCause) Error() string { return e.reason }

func newCallID() string {
	var b [8]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newCall registers a call with its user and starts its loop.
func (u *User) newCall(outgoing bool, peer string, state signaling.CallState, trace string) *Call {
	c, _ := u.newCallWithID(newCallID(), outgoing, peer, state, trace)
	return c
}

// newCallWithID is newCall with the call's id given (an adopted call keeps its own);
// ok is false, and nothing starts, when the user already has a call with that id.
func (u *User) newCallWithID(id string, outgoing bool, peer string, state signaling.CallState, trace string) (*Call, bool) {
	if !calltrace.Valid(trace) {
		trace = calltrace.New()
	}
	c := &Call{u: u, id: id, outgoing: outgoing, ops: make(chan func()),
		done: make(chan struct{}), peer: peer, state: state, trace: trace}
	c.ctx, c.cancel = context.WithCancelCause(u.ctx)
	u.mu.Lock()
	if u.calls[c.id] != nil {
		u.mu.Unlock()
		c.cancel(nil)
		return nil, false
	}
	u.calls[c.id] = c
	u.mu.Unlock()
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		c.run()
	}()
	return c, true
}

// ID identifies the call to the gateway; it survives dialog changes.
func (c *Call) ID() string { return c.id }

// Trace is the call's trace id: minted for a call this user places, the incoming
// INVITE's X-Parkway-Trace otherwise (a fresh one when it had none). Every request
// this user agent sends about the call carries it.
func (c *Call) Trace() string { return c.trace }

// User is the user whose call this is.
func (c *Call) User() *User { return c.u }

// Outgoing reports whether this user placed the call.
func (c *Call) Outgoing() bool { return c.outgoing }

// Peer is the far end's URI.
func (c *Call) Peer() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peer
}

// Leg is the MediaLeg the call was dialled or answered with (nil while an incoming
// call rings). The gateway finds its own state for a call by the leg it gave, which it
// needs before Dial returns: the call's first events arrive while it still dials.
func (c *Call) Leg() MediaLeg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leg
}

// State is the call's state now.
func (c *Call) State() signaling.CallState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// RemoteHold reports whether the far end has put this call on hold.
func (c *Call) RemoteHold() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remoteHold
}

// Direction is the media direction negotiated for our side.
func (c *Call) Direction() Direction {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.local.Dir
}

// Done is closed when the call has ended and its dialog is torn down.
func (c *Call) Done() <-chan struct{} { return c.done }

// EndReason says why the call ended ("" while it lasts).
func (c *Call) EndReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// ParkedOn reports whether this call is parked — its far end is a park service, after
// the other party parked it — and on which pool and orbit. When that pool fails, the
// gateway ends such calls with a reason (issue 5: "hung up promptly with a clear
// reason, never left in silence"): see Manager.EndParked.
func (c *Call) ParkedOn() (pool, orbit string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.parkedPool, c.parkedAt, c.parkedPool != ""
}

// CallID is the SIP Call-ID of the call's current dialog ("" before one exists).
func (c *Call) CallID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.d == nil {
		return ""
	}
	return c.d.callID
}

func (c *Call) dialog() *dialog {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.d
}

// setState records and publishes a state change.
func (c *Call) setState(s signaling.CallState, reason string) {
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
	c.u.publish(Event{Call: c, State: s, Reason: reason})
}

// Hangup ends the call: BYE when connected, CANCEL while dialing, 603 while ringing.
func (c *Call) Hangup(ctx context.Context) error { return c.End(ctx, "hung up") }

// End ends the call with a reason the far end receives in a Reason header
// (RFC 3326) and this user sees in the ended event — e.g. "the park pool failed".
// It waits until the call is torn down or ctx ends.
func (c *Call) End(ctx context.Context, reason string) error {
	c.cancel(&endCause{reason})
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// do runs f on the call's loop and returns its error.
func (c *Call) do(ctx context.Context, f func() error) error {
	errc := make(chan error, 1)
	op := func() { errc <- f() }
	select {
	case c.ops <- op:
	case <-c.ctx.Done():
		return ErrCallEnded
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// post runs f on the loop without waiting; false when the call is over.
func (c *Call) post(f func()) bool {
	select {
	case c.ops <- f:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// exec runs f on the loop and waits until it has run; false when the call is over.
// SIP handlers use it: sipgo terminates a server transaction whose handler returns
// before a final response was sent, so a handler must wait for the loop to answer.
func (c *Call) exec(f func()) bool {
	ran := make(chan struct{})
	if !c.post(func() { defer close(ran); f() }) {
		return false
	}
	select {
	case <-ran:
		return true
	case <-c.done:
		return true
	}
}

// run is the call's select loop: the one goroutine that changes the call.
func (c *Call) run() {
	defer c.teardown()
	for {
		select {
		case f := <-c.ops:
			f()
		case <-c.ctx.Done():
			return
		}
	}
}

// teardown ends the current dialog (BYE with our reason unless the far end already
// hung up), forgets the call's dialogs and publishes the end. It runs on
// context.WithoutCancel so a call ended by sign-out still says goodbye.
func (c *Call) teardown() {
	reason := "ended"
	var ec *endCause
	if errors.As(context.Cause(c.ctx), &ec) {
		reason = ec.reason
	} else if c.u.ctx.Err() != nil {
		reason = "signed out"
	}
	c.mu.Lock()
	d, old, state := c.d, c.old, c.state
	c.reason = reason
	c.state = signaling.CallEnded
	orbit := c.orbit
	c.mu.Unlock()
	c.u.mu.Lock()
	delete(c.u.calls, c.id)
	c.u.mu.Unlock()
	// Tell the user first: a BYE to a dead pool's park service only times out, and the
	// softphone must not wait for that to show why the call ended.
	c.u.publish(Event{Call: c, State: signaling.CallEnded, Reason: reason, Orbit: orbit})

	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), c.u.m.cfg.RequestTimeout)
	defer cancel()
	if d != nil && !d.ended() {
		if state == signaling.CallRinging && d.ss != nil {
			// Hung up before answering: decline (RFC 3261 §21.6.3).
			_ = d.ss.Respond(603, "Decline", nil)
			d.answer()
		} else {
			_ = d.bye(ctx, reason)
		}
	}
	for _, o := range old {
		if !o.ended() {
			_ = o.bye(ctx, "")
		}
		c.u.m.removeDialog(o)
	}
	if d != nil {
		c.u.m.removeDialog(d)
	}
	c.wg.Wait()
	close(c.done)
}

// adopt makes d the call's current dialog (on the loop) and watches it: when the far
// end ends the current dialog, the call ends with its reason. A dialog that was
// replaced ends quietly.
func (c *Call) adopt(d *dialog) {
	c.mu.Lock()
	if c.d != nil && c.d != d {
		c.old = append(c.old, c.d)
	}
	c.d = d
	c.parkedPool, c.parkedAt = "", "" // a new far end; moveTo sets them again
	c.parkedBy, c.parkedSince = "", ""
	u := d.remoteURI()
	c.peer = u.String()
	c.mu.Unlock()
	c.u.m.addDialog(d)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		select {
		case <-d.context().Done():
		case <-c.ctx.Done():
			return
		}
		c.post(func() {
			c.mu.Lock()
			current := c.d == d
			state := c.state
			transferred := c.referOK && c.referReason != ""
			referReason := c.referReason
			c.mu.Unlock()
			if !current {
				c.u.m.removeDialog(d)
				return
			}
			reason := d.hangupText()
			switch {
			case transferred:
				reason = referReason // the transferee left as we asked
			case reason != "":
			case state == signaling.CallRinging:
				reason = "cancelled"
			default:
				reason = "remote hung up"
			}
			c.cancel(&endCause{reason})
		})
	}()
}

// newLocal starts our side of the session for leg: a fresh o= session ID.
func newLocal(leg MediaLeg) audiosdp.Local {
	return audiosdp.Local{Addr: leg.LocalRTP(), SessionID: rand.Uint64() >> 2, Version: 1,
		Payloads: legCodecs(leg), Events: PayloadEventsDef, Dir: SendRecv}
}

// waitTimeout is a generous bound for waits inside the loop that a broken peer could
// otherwise stretch forever.
const waitTimeout = 32 * time.Second
