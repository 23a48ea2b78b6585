package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parkway/parkway/signaling"
)

// The test client's reads. None can hang: every one has a deadline (readTimeout, more
// than any wait a test means) and fails the test saying what it waited for. None loses
// a message another wait needs: a wait for one type of message (a call, a parked
// list, an error…) takes that type's messages in order and leaves every other type in
// the client's inbox, where the wait for that type finds it. Messages of the waited
// type that do not match are the older news of what is awaited, and are dropped as
// before. States are the exception that proves it: each one replaces the last, and
// "the state after this call message" is what a test waits for, so the states that
// arrived before a message a wait took are dropped with it.

// readTimeout bounds every wait for a message: generous, so that a test fails on what
// never comes, not on a slow machine.
const readTimeout = time.Minute

// received is one message from the gateway.
type received struct {
	env signaling.Envelope
	m   signaling.Message
	seq uint64 // arrival order
}

// read returns the oldest message no wait has taken yet: the inbox's first, else the
// next from the connection, waiting up to readTimeout. Gateway pings are answered and
// never returned.
func (c *client) read() (signaling.Envelope, signaling.Message, error) {
	if len(c.inbox) > 0 {
		r := c.inbox[0]
		c.inbox = c.inbox[1:]
		return r.env, r.m, nil
	}
	r, err := c.readConn(time.Now().Add(readTimeout))
	return r.env, r.m, err
}

// readConn reads the next message from the connection (pings answered) until deadline.
// A read cut by the deadline closes the connection, as coder/websocket does.
func (c *client) readConn(deadline time.Time) (received, error) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	for {
		_, frame, err := c.conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("nothing for %v: %w", readTimeout, err)
			}
			return received{}, err
		}
		env, m, err := signaling.Decode(signaling.FromGateway, frame)
		if err != nil {
			return received{env: env}, fmt.Errorf("gateway sent a frame its own contract refuses: %w: %s", err, frame)
		}
		if p, ok := m.(*signaling.Ping); ok {
			// Answer as the softphone does, so waiting in read keeps the session alive.
			f, _ := signaling.Encode("", &signaling.Pong{Seq: p.Seq})
			c.conn.Write(ctx, websocket.MessageText, f)
			continue
		}
		c.seq++
		return received{env: env, m: m, seq: c.seq}, nil
	}
}

// await waits for the first message of type M that ok accepts and returns it. Earlier
// messages of type M that ok refuses are dropped; messages of other types stay in the
// inbox for their own waits. With failOnError, an error message — already in the inbox
// or arriving — fails the test (it is taken, so the failure names it once).
func await[M signaling.Message](c *client, what string, failOnError bool, ok func(signaling.Envelope, M) bool) (signaling.Envelope, M) {
	c.t.Helper()
	for i := 0; i < len(c.inbox); {
		r := c.inbox[i]
		if e, isErr := r.m.(*signaling.Error); isErr && failOnError {
			c.inbox = slices.Delete(c.inbox, i, i+1)
			c.t.Fatalf("waiting for %s: error %+v", what, e)
		}
		if m, is := r.m.(M); is {
			c.inbox = slices.Delete(c.inbox, i, i+1)
			if ok(r.env, m) {
				c.dropStatesBefore(r.seq)
				return r.env, m
			}
			continue
		}
		i++
	}
	deadline := time.Now().Add(readTimeout)
	for {
		r, err := c.readConn(deadline)
		if err != nil {
			var zero M
			c.t.Fatalf("waiting for %s: %v (unread: %s)", what, err, c.unread())
			return r.env, zero
		}
		if m, is := r.m.(M); is {
			if ok(r.env, m) {
				c.dropStatesBefore(r.seq)
				return r.env, m
			}
			continue
		}
		if e, isErr := r.m.(*signaling.Error); isErr && failOnError {
			c.t.Fatalf("waiting for %s: error %+v", what, e)
		}
		c.inbox = append(c.inbox, r)
	}
}

// dropStatesBefore forgets the states that arrived before message seq: a wait took a
// newer message, and a later wait for a state means one after it.
func (c *client) dropStatesBefore(seq uint64) {
	c.inbox = slices.DeleteFunc(c.inbox, func(r received) bool {
		_, isState := r.m.(*signaling.State)
		return isState && r.seq < seq
	})
}

// unread lists the inbox's message types, for a failure message.
func (c *client) unread() string {
	if len(c.inbox) == 0 {
		return "none"
	}
	var types []string
	for _, r := range c.inbox {
		types = append(types, fmt.Sprintf("%T", r.m))
	}
	return strings.Join(types, ", ")
}

// anything accepts every message of its type.
func anything[M signaling.Message](signaling.Envelope, M) bool { return true }

// expect reads the next message, which must be an M.
func expect[M signaling.Message](c *client) M {
	c.t.Helper()
	_, m, err := c.read()
	if err != nil {
		var want M
		c.t.Fatalf("waiting for %T: %v", want, err)
	}
	got, ok := m.(M)
	if !ok {
		var want M
		c.t.Fatalf("got %T %+v, want %T", m, m, want)
	}
	return got
}

// expectError reads the next message, which must be an error with code.
func expectError(c *client, code signaling.ErrorCode) *signaling.Error {
	c.t.Helper()
	e := expect[*signaling.Error](c)
	if e.Code != code {
		c.t.Fatalf("error %+v, want code %s", e, code)
	}
	return e
}

// expectClosed reads until the connection ends and returns its close status.
func (c *client) expectClosed() websocket.CloseError {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	for {
		_, _, err := c.conn.Read(ctx)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			c.t.Fatalf("waited %v for the gateway to close the connection", readTimeout)
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			return websocket.CloseError{Code: -1, Reason: err.Error()}
		}
		return ce
	}
}

// pingPong proves the session is alive: a ping is answered with its pong, with the
// ping's id; an error meanwhile fails.
func (c *client) pingPong(seq uint64) {
	c.t.Helper()
	id := fmt.Sprint("p", seq)
	c.send(signaling.Encode(id, &signaling.Ping{Seq: seq}))
	env, _ := await(c, fmt.Sprintf("pong %d", seq), true, func(_ signaling.Envelope, p *signaling.Pong) bool { return p.Seq == seq })
	if env.ID != id {
		c.t.Errorf("pong id %q", env.ID)
	}
}

// alive proves the session still answers: a ping gets its pong, whatever else
// (states, calls, parked lists) arrives in between; an error fails.
func alive(t *testing.T, c *client, seq uint64) {
	t.Helper()
	id := fmt.Sprint("alive", seq)
	c.send(signaling.Encode(id, &signaling.Ping{Seq: seq}))
	await(c, fmt.Sprintf("pong %d", seq), true, func(env signaling.Envelope, p *signaling.Pong) bool { return p.Seq == seq && env.ID == id })
}

// nextCall waits for a call message matching ok; an error fails the test.
func nextCall(t *testing.T, c *client, what string, ok func(env signaling.Envelope, m *signaling.Call) bool) (signaling.Envelope, *signaling.Call) {
	t.Helper()
	return await(c, what, true, ok)
}

// nextError waits for an error.
func nextError(t *testing.T, c *client) *signaling.Error {
	t.Helper()
	_, e := await(c, "an error", false, anything[*signaling.Error])
	return e
}

// nextState waits for a state; an error fails the test.
func nextState(t *testing.T, c *client) *signaling.State {
	t.Helper()
	_, st := await(c, "a state", true, anything[*signaling.State])
	return st
}

// statesUntil waits for a state in phase p (errors stay in the inbox).
func statesUntil(t *testing.T, c *client, p signaling.Phase) *signaling.State {
	t.Helper()
	_, st := await(c, fmt.Sprintf("phase %s", p), false, func(_ signaling.Envelope, st *signaling.State) bool { return st.Phase == p })
	return st
}

// nextParked waits for a parked list matching ok; an error fails the test.
func nextParked(t *testing.T, c *client, what string, ok func(*signaling.Parked) bool) *signaling.Parked {
	t.Helper()
	_, l := await(c, what, true, func(_ signaling.Envelope, l *signaling.Parked) bool { return ok(l) })
	return l
}
