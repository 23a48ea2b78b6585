package phone

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/parkway/parkway/gateway/ua"
)

// Registrar signs users in to SIP and out again (issue 4 item 1: a user agent per
// signed-in user, registered at the active pool). It is an interface so gateway tests
// without pools keep working and another user-agent backend can stand in; SIPUsers
// adapts the real one.
type Registrar interface {
	// SignIn registers user at the active pool; signing in a user who already is
	// must be cheap and succeed.
	SignIn(ctx context.Context, user string) error
	// SignOut ends the user's calls and removes its registration; a user who is not
	// signed in is no error.
	SignOut(ctx context.Context, user string) error
}

// DefaultSignOutGrace is how long a user stays registered after their last session
// ends: long enough for a page reload or a reconnect after a network blip, so neither
// churns REGISTERs at the pool nor drops a ringing call.
const DefaultSignOutGrace = 10 * time.Second

// SIPUsers is the Registrar of a gateway/ua Manager.
func SIPUsers(m *ua.Manager) Registrar { return uaRegistrar{m} }

type uaRegistrar struct{ m *ua.Manager }

func (r uaRegistrar) SignIn(ctx context.Context, user string) error {
	_, err := r.m.SignIn(ctx, user)
	return err
}

func (r uaRegistrar) SignOut(ctx context.Context, user string) error {
	if u := r.m.User(user); u != nil {
		return u.SignOut(ctx)
	}
	return nil
}

// registrations counts each user's sessions and keeps the user signed in to SIP while
// there is at least one, plus the grace period after the last one ends.
//
// mu protects users and closed. A user's SignIn and SignOut never overlap: each runs
// holding that user's op lock, so a sign-in that arrives while the grace period's
// sign-out is under way waits for it and then registers afresh. Every goroutine (the
// sign-ins and the grace timers) is counted in wg, which close waits for.
type registrations struct {
	r     Registrar
	grace time.Duration
	log   *slog.Logger
	// signedIn, when set, hears of every successful sign-in, so the user's calls can
	// be followed from their new user agent (calls.go).
	signedIn func(user string)

	ctx    context.Context // ends at close: in-flight sign-ins give up
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	users  map[string]*userRegistration
	closed bool
}

type userRegistration struct {
	op       sync.Mutex // serializes SignIn and SignOut for this user
	sessions int
	timer    *time.Timer // the pending sign-out, if any
}

func newRegistrations(r Registrar, grace time.Duration, log *slog.Logger) *registrations {
	ctx, cancel := context.WithCancel(context.Background())
	return &registrations{r: r, grace: grace, log: log, ctx: ctx, cancel: cancel, users: map[string]*userRegistration{}}
}

// join counts a new session of user and signs the user in, in the background: a pool
// that does not answer takes the request timeout (10 s) to fail, and the session must
// keep reading heartbeats meanwhile. failed is called on the first failure; the
// sign-in is then retried with backoff while the user has a session, because the
// usual cause — the pool died mid-sign-in — is cured by the DR controller moving
// everyone to the backup, and a user left unregistered would get no calls.
func (g *registrations) join(user string, failed func(error)) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	u := g.countLocked(user)
	g.wg.Add(1)
	g.mu.Unlock()
	go func() {
		defer g.wg.Done()
		backoff := retryMin
		for attempt := 0; ; attempt++ {
			tried, err := g.signIn(user, u)
			if tried && err == nil && g.signedIn != nil {
				g.signedIn(user)
			}
			if !tried || err == nil {
				return
			}
			g.log.Warn("sip sign-in failed", "user", user, "err", err, "retry", backoff)
			if attempt == 0 {
				failed(err)
			}
			select {
			case <-time.After(backoff):
			case <-g.ctx.Done():
				return
			}
			backoff = min(2*backoff, retryMax)
		}
	}()
}

// Backoff between sign-in attempts after a failure.
const (
	retryMin = time.Second
	retryMax = 30 * time.Second
)

// signIn makes one attempt, unless the user is no longer wanted (tried is false then).
func (g *registrations) signIn(user string, u *userRegistration) (tried bool, err error) {
	u.op.Lock()
	defer u.op.Unlock()
	if !g.wanted(user, u) {
		return false, nil // every session of the user ended (the sign-out is scheduled)
	}
	err = g.r.SignIn(g.ctx, user)
	if g.ctx.Err() != nil {
		return false, nil
	}
	return true, err
}

// adopt counts a call adopted from a failed gateway (adopt.go) as a session of user
// and signs the user in now, reporting whether that worked; leave uncounts it.
func (g *registrations) adopt(ctx context.Context, user string) error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return errors.New("phone: closed")
	}
	u := g.countLocked(user)
	g.mu.Unlock()
	u.op.Lock()
	err := g.r.SignIn(ctx, user)
	u.op.Unlock()
	if err != nil {
		g.leave(user)
		return err
	}
	if g.signedIn != nil {
		g.signedIn(user)
	}
	return nil
}

// countLocked counts one more session of user, stopping a pending sign-out; under g.mu.
func (g *registrations) countLocked(user string) *userRegistration {
	u := g.users[user]
	if u == nil {
		u = &userRegistration{}
		g.users[user] = u
	}
	u.sessions++
	g.stopTimerLocked(u)
	return u
}

// keep counts a call waiting for a tab to re-attach it (reattach.go) as a session of
// user, without signing in anew: the user stays registered, so the sign-out grace
// does not end the call before its re-attach grace does. leave uncounts it.
func (g *registrations) keep(user string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	u := g.users[user]
	if g.closed || u == nil {
		return
	}
	u.sessions++
	g.stopTimerLocked(u)
}

// leave uncounts a session; the last one schedules the sign-out after the grace period.
func (g *registrations) leave(user string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	u := g.users[user]
	if g.closed || u == nil {
		return
	}
	if u.sessions--; u.sessions > 0 {
		return
	}
	g.wg.Add(1)
	u.timer = time.AfterFunc(g.grace, func() {
		defer g.wg.Done()
		g.signOut(user, u)
	})
}

func (g *registrations) signOut(user string, u *userRegistration) {
	u.op.Lock()
	defer u.op.Unlock()
	g.mu.Lock()
	if u.sessions > 0 || g.users[user] != u || g.closed {
		g.mu.Unlock()
		return // a session came back during the grace period
	}
	delete(g.users, user)
	g.mu.Unlock()
	if err := g.r.SignOut(g.ctx, user); err != nil && g.ctx.Err() == nil {
		g.log.Info("sip sign-out", "user", user, "err", err)
	}
}

func (g *registrations) wanted(user string, u *userRegistration) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.closed && g.users[user] == u && u.sessions > 0
}

// stopTimerLocked cancels a pending sign-out; one that already fired finds the
// session count above zero and does nothing.
func (g *registrations) stopTimerLocked(u *userRegistration) {
	if u.timer != nil && u.timer.Stop() {
		g.wg.Done()
	}
	u.timer = nil
}

// close stops pending sign-outs and in-flight sign-ins and waits for them. Users stay
// signed in: whoever owns the Registrar signs them out when closing it (ua.Manager.Close
// does), so a gateway restart in the same process is not a registration storm.
func (g *registrations) close() {
	g.mu.Lock()
	g.closed = true
	for _, u := range g.users {
		g.stopTimerLocked(u)
	}
	g.mu.Unlock()
	g.cancel()
	g.wg.Wait()
}
