package ua

import (
	"context"
	"sync"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// challenges remembers the last digest challenge each pool sent, so REGISTERs can carry
// credentials on the first try (RFC 7616 §3.3: a client may reuse a nonce with an
// increasing nonce count; RFC 3261 §22.3 calls this pre-emptive authorization). It
// halves the round trips of a Redirect of a thousand users. A stale or unknown nonce
// costs nothing more than the challenge we would have had anyway.
type challenges struct {
	mu     sync.Mutex
	byPool map[string]*cachedChallenge
}

type cachedChallenge struct {
	chal  *digest.Challenge
	count int
}

// laneKey carries a Redirect worker's own challenges in its context (laneChallenges).
type laneKey struct{}

// laneChallenges gives each of Redirect's workers challenges of its own. A pool refuses
// a nonce-count lower than one it has seen with the same nonce (a replay), and it
// handles requests concurrently, so REGISTERs sent at once on one shared nonce often
// reach its check out of order and are refused. A worker sends its REGISTERs one after
// another, so the counts on its nonce arrive in order.
func laneChallenges(ctx context.Context) context.Context {
	return context.WithValue(ctx, laneKey{}, &challenges{})
}

// challengesFor is the lane's challenges in a Redirect worker, the manager's otherwise.
func (m *Manager) challengesFor(ctx context.Context) *challenges {
	if c, ok := ctx.Value(laneKey{}).(*challenges); ok {
		return c
	}
	return &m.chals
}

// rememberChallenge keeps the 401's first challenge (the pool's preferred algorithm),
// which a REGISTER has just answered successfully with nonce-count 1: the next use
// counts from 2.
func (m *Manager) rememberChallenge(ctx context.Context, p Pool, res *sip.Response) {
	if res.StatusCode != 401 {
		return
	}
	h := res.GetHeader("WWW-Authenticate")
	if h == nil {
		return
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		return
	}
	chal.Algorithm = sip.ASCIIToUpper(chal.Algorithm)
	cs := m.challengesFor(ctx)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.byPool == nil {
		cs.byPool = map[string]*cachedChallenge{}
	}
	cs.byPool[p.Name] = &cachedChallenge{chal: chal, count: 1}
}

// preAuthorize adds an Authorization answering the pool's last challenge, if any.
func (m *Manager) preAuthorize(ctx context.Context, req *sip.Request, p Pool, user, password string) {
	cs := m.challengesFor(ctx)
	cs.mu.Lock()
	c := cs.byPool[p.Name]
	var count int
	if c != nil {
		c.count++
		count = c.count
	}
	cs.mu.Unlock()
	if c == nil {
		return
	}
	cred, err := digest.Digest(c.chal, digest.Options{Method: string(req.Method), URI: req.Recipient.Addr(),
		Username: user, Password: password, Count: count})
	if err != nil {
		return
	}
	req.RemoveHeader("Authorization")
	req.AppendHeader(sip.NewHeader("Authorization", cred.String()))
}
