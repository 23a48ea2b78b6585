package ua

import (
	"context"
	"fmt"
	"sync"
)

// Redirect re-registers every signed-in user at the pool named to, at most
// Config.Parallelism at a time, and returns once all are registered there — or with a
// *RedirectError naming who failed. It satisfies gateway/dr's Redirector: it is safe
// to call again after a partial move (users already bound at to are skipped), and it
// stops early when ctx ends.
//
// Calls in progress are untouched: their dialogs run end to end between the parties'
// Contacts (the pools never Record-Route), so no in-dialog request needs the pool.
//
// The binding at the old pool is deliberately left to expire rather than removed: if
// the old pool is down an un-REGISTER would only wait for a timeout, and if it is alive
// (failback) it may still have to reach the user — a call parked there rings its
// parker back through it (issue 5: "its timeout still rings back the parker").
// Park watchers move with the users.
func (m *Manager) Redirect(ctx context.Context, to string) error {
	pool, ok := m.Pool(to)
	if !ok {
		return fmt.Errorf("ua: redirect: unknown pool %q", to)
	}
	m.mu.Lock()
	m.active = pool
	users := make([]*User, 0, len(m.users))
	for _, u := range m.users {
		users = append(users, u)
	}
	m.mu.Unlock()
	m.log.Info("ua: redirecting users", "to", to, "users", len(users))

	var (
		mu     sync.Mutex
		failed = map[string]error{}
		wg     sync.WaitGroup
		work   = make(chan *User)
	)
	// Config.Parallelism workers, each with its own digest challenges (laneChallenges):
	// a worker's first REGISTER fetches one, the rest carry credentials from the start.
	for range min(m.cfg.Parallelism, len(users)) {
		wg.Go(func() {
			lane := laneChallenges(ctx)
			for u := range work {
				if u.ctx.Err() != nil {
					continue // signed out meanwhile
				}
				if err := u.register(lane, pool, m.cfg.Expires); err != nil && u.ctx.Err() == nil {
					mu.Lock()
					failed[u.name] = err
					mu.Unlock()
				}
			}
		})
	}
	for _, u := range users {
		// A REGISTER still waiting on the pool we are leaving (it may be dead) holds
		// the user's registration lock for up to RequestTimeout: cut it short first.
		u.reg.preempt(pool.Name)
		if p, ok := u.Registered(); ok && p.Name == pool.Name {
			continue
		}
		select {
		case work <- u:
		case <-ctx.Done():
			mu.Lock()
			failed[u.name] = ctx.Err()
			mu.Unlock()
		}
	}
	close(work)
	wg.Wait()
	m.moveWatchers(ctx, pool)
	if len(failed) > 0 {
		return &RedirectError{Pool: to, Failed: failed}
	}
	return nil
}
