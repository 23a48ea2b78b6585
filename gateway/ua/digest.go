package ua

import (
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

// rememberChallenge keeps the 401's first challenge (the pool's preferred algorithm),
// which a REGISTER has just answered successfully with nonce-count 1: the next use
// counts from 2.
func (m *Manager) rememberChallenge(p Pool, res *sip.Response) {
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
	m.chals.mu.Lock()
	defer m.chals.mu.Unlock()
	if m.chals.byPool == nil {
		m.chals.byPool = map[string]*cachedChallenge{}
	}
	m.chals.byPool[p.Name] = &cachedChallenge{chal: chal, count: 1}
}

// preAuthorize adds an Authorization answering the pool's last challenge, if any.
func (m *Manager) preAuthorize(req *sip.Request, p Pool, user, password string) {
	m.chals.mu.Lock()
	c := m.chals.byPool[p.Name]
	var count int
	if c != nil {
		c.count++
		count = c.count
	}
	m.chals.mu.Unlock()
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

func (m *Manager) hasChallenge(p Pool) bool {
	m.chals.mu.Lock()
	defer m.chals.mu.Unlock()
	return m.chals.byPool[p.Name] != nil
}
