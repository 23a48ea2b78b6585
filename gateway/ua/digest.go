package ua

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Secret is what the gateway knows of a user's digest credentials: the password, or
// its HA1 hash (hex MD5 of "user:realm:password", RFC 2617 §3.2.2.2; what Kamailio and
// Asterisk store; internal/usersfile) made for Realm. An HA1 answers only MD5
// challenges of that realm, so the pools' realm must be the one it was made with.
type Secret struct {
	Password string
	HA1      string
	Realm    string
}

// SecretCredentials is Credentials that may hold HA1 hashes; a Manager whose
// Credentials implement it asks Secret rather than Password.
type SecretCredentials interface {
	Credentials
	Secret(user string) (Secret, bool)
}

// Secrets is a SecretCredentials backed by a map of user → secret.
type Secrets map[string]Secret

// Password implements Credentials: the plain password; a hashed user has none.
func (s Secrets) Password(user string) (string, bool) {
	e, ok := s[user]
	if !ok || e.HA1 != "" {
		return "", false
	}
	return e.Password, true
}

// Secret implements SecretCredentials.
func (s Secrets) Secret(user string) (Secret, bool) {
	e, ok := s[user]
	return e, ok
}

// secret finds name's secret in the configured Credentials.
func (m *Manager) secret(name string) (Secret, bool) {
	if sc, ok := m.cfg.Credentials.(SecretCredentials); ok {
		return sc.Secret(name)
	}
	pw, ok := m.cfg.Credentials.Password(name)
	return Secret{Password: pw}, ok
}

// ErrChallengeUnanswerable is wrapped by the error of a request whose digest challenge
// the user's secret cannot answer: an HA1 made for another realm, or a challenge
// offering no MD5.
var ErrChallengeUnanswerable = errors.New("digest challenge cannot be answered with the stored HA1")

// digestOptions are the icholy/digest options answering for user with sec.
func digestOptions(req *sip.Request, user string, sec Secret, count int) digest.Options {
	return digest.Options{Method: string(req.Method), URI: req.Recipient.Addr(), Username: user,
		Password: sec.Password, A1: sec.HA1, Count: count}
}

// authorize answers res (a 401 or 407) on req: it picks the first challenge sec can
// answer — for an HA1, an MD5 one of its realm — and sets Authorization (or
// Proxy-Authorization) on req. It returns the challenge answered.
func authorize(req *sip.Request, res *sip.Response, user string, sec Secret) (*digest.Challenge, error) {
	chHeader, credHeader := "WWW-Authenticate", "Authorization"
	if res.StatusCode == 407 {
		chHeader, credHeader = "Proxy-Authenticate", "Proxy-Authorization"
	}
	var offered []string
	for _, h := range res.GetHeaders(chHeader) {
		chal, err := digest.ParseChallenge(h.Value())
		if err != nil || !digest.CanDigest(chal) {
			continue
		}
		chal.Algorithm = sip.ASCIIToUpper(chal.Algorithm)
		if sec.HA1 != "" && ((chal.Algorithm != "" && chal.Algorithm != "MD5") || chal.Realm != sec.Realm) {
			offered = append(offered, fmt.Sprintf("%s in realm %q", cmp(chal.Algorithm, "MD5"), chal.Realm))
			continue
		}
		cred, err := digest.Digest(chal, digestOptions(req, user, sec, 0))
		if err != nil {
			return nil, fmt.Errorf("digest: %w", err)
		}
		req.RemoveHeader(credHeader)
		req.AppendHeader(sip.NewHeader(credHeader, cred.String()))
		return chal, nil
	}
	if len(offered) > 0 {
		return nil, fmt.Errorf("%w: %s's HA1 is for MD5 in realm %q, the pool offers %s (hash it for the pool's realm)",
			ErrChallengeUnanswerable, user, sec.Realm, strings.Join(offered, ", "))
	}
	return nil, fmt.Errorf("%d answer without a digest challenge we can answer", res.StatusCode)
}

func cmp(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

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

// rememberChallenge keeps the 401 challenge a REGISTER has just answered successfully
// (authorize's pick: the pool's preferred algorithm, or MD5 for an HA1) with
// nonce-count 1: the next use counts from 2.
func (m *Manager) rememberChallenge(ctx context.Context, p Pool, chal *digest.Challenge) {
	cs := m.challengesFor(ctx)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.byPool == nil {
		cs.byPool = map[string]*cachedChallenge{}
	}
	cs.byPool[p.Name] = &cachedChallenge{chal: chal, count: 1}
}

// preAuthorize adds an Authorization answering the pool's last challenge, if any.
func (m *Manager) preAuthorize(ctx context.Context, req *sip.Request, p Pool, user string, sec Secret) {
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
	cred, err := digest.Digest(c.chal, digestOptions(req, user, sec, count))
	if err != nil {
		return
	}
	req.RemoveHeader("Authorization")
	req.AppendHeader(sip.NewHeader("Authorization", cred.String()))
}
