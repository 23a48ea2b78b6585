package pool

import (
	"net"
	"sync"
	"time"
)

// Abuse limits (the pike and fail2ban of Kamailio's and Asterisk's hardening guides),
// both keyed by the source IP address a request really came from:
//
//   - floodGate: a token bucket per source IP for every request except OPTIONS (the
//     health probe must get through a flood), ACK and CANCEL (they finish work already
//     admitted). An empty bucket is answered 503 with Retry-After; over UDP that answer
//     is stateless, sent from the read loop before sipgo builds a transaction, so a
//     flood costs the pool one parse per datagram.
//   - authThrottle: digest failures per source IP and user name. Each failure within
//     AuthFailureWindow is answered later than the one before (AuthFailureDelay,
//     doubling); the AuthFailureLimit-th locks that user out from that source for
//     AuthLockout, during which every answer, right or wrong, is a delayed 403.
//
// The peer pool and our own park service are not users and skip the flood gate (see
// node.trusted): the peer's requests were admitted where they entered.

// maxTracked bounds the sources (flood) and source/user pairs (digest) remembered at
// once. Past it, idle entries are dropped first; a source that keeps sending stays
// tracked, so the bound cannot be used to reset a lock-out.
const maxTracked = 65536

// floodGate is a token bucket per source IP.
type floodGate struct {
	rate  float64 // tokens per second
	burst float64
	mu    sync.Mutex
	ip    map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newFloodGate(perSecond float64, burst int) *floodGate {
	return &floodGate{rate: perSecond, burst: float64(burst), ip: map[string]*bucket{}}
}

// admit takes a token from ip's bucket and reports whether there was one.
func (g *floodGate) admit(ip string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	b := g.ip[ip]
	if b == nil {
		if len(g.ip) >= maxTracked {
			g.pruneLocked(now)
		}
		b = &bucket{tokens: g.burst, last: now}
		g.ip[ip] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(g.burst, b.tokens+el*g.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// pruneLocked forgets sources whose buckets are full again: they are as good as new.
func (g *floodGate) pruneLocked(now time.Time) {
	for ip, b := range g.ip {
		if b.tokens+now.Sub(b.last).Seconds()*g.rate >= g.burst {
			delete(g.ip, ip)
		}
	}
}

func (g *floodGate) expire(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pruneLocked(now)
}

// authThrottle counts digest failures per source IP and user name.
type authThrottle struct {
	limit   int
	window  time.Duration
	lockout time.Duration
	delay   time.Duration
	mu      sync.Mutex
	pairs   map[throttleKey]*failures
}

type throttleKey struct{ ip, user string }

type failures struct {
	count       int
	first       time.Time // start of the counting window
	lockedUntil time.Time
}

func newAuthThrottle(o Options) *authThrottle {
	return &authThrottle{limit: o.AuthFailureLimit, window: o.AuthFailureWindow, lockout: o.AuthLockout,
		delay: o.AuthFailureDelay, pairs: map[throttleKey]*failures{}}
}

// maxDelay is the delay of the last failure before a lock-out, and of every answer
// during one.
func (a *authThrottle) maxDelay() time.Duration { return a.delayOf(a.limit) }

// delayOf is the delay of the n-th failure: doubling, up to 2⁸ times the first.
func (a *authThrottle) delayOf(n int) time.Duration { return a.delay << (min(n, a.limit, 9) - 1) }

// locked says how much longer user is locked out from ip, if it is.
func (a *authThrottle) locked(ip, user string, now time.Time) (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.pairs[throttleKey{ip, user}]
	if f == nil || !now.Before(f.lockedUntil) {
		return 0, false
	}
	return f.lockedUntil.Sub(now), true
}

// fail records a failure and returns how long to wait before answering it, and whether
// it locked the pair out.
func (a *authThrottle) fail(ip, user string, now time.Time) (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := throttleKey{ip, user}
	f := a.pairs[k]
	if f == nil {
		if len(a.pairs) >= maxTracked {
			a.pruneLocked(now)
		}
		f = &failures{}
		a.pairs[k] = f
	}
	if now.Before(f.lockedUntil) {
		// Checked before the lock-out began, failed after: not a new failure to count
		// (the count restarted at the lock-out), answered as the lock-out is.
		return a.maxDelay(), false
	}
	if f.count == 0 || now.Sub(f.first) > a.window {
		f.count, f.first = 0, now
	}
	f.count++
	d := a.delayOf(f.count)
	if f.count >= a.limit {
		f.count = 0
		f.lockedUntil = now.Add(a.lockout)
		return d, true
	}
	return d, false
}

// succeed forgets the pair's failures: the user knows the password.
func (a *authThrottle) succeed(ip, user string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.pairs, throttleKey{ip, user})
}

func (a *authThrottle) pruneLocked(now time.Time) {
	for k, f := range a.pairs {
		if !now.Before(f.lockedUntil) && now.Sub(f.first) > a.window {
			delete(a.pairs, k)
		}
	}
}

func (a *authThrottle) expire(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pruneLocked(now)
}

// sourceIP is the IP address part of a request's source "ip:port".
func sourceIP(source string) string {
	host, _, err := net.SplitHostPort(source)
	if err != nil {
		return source
	}
	return host
}
