package edge

import "time"

// messageLimit is one session's token bucket over the frames it sends (issue 13): burst
// frames at once, refilled at rate a second. A frame over the limit is refused with
// "rate-limited", and counted in excess, which drains at the same rate: a client that
// keeps sending faster than twice the rate fills it past burst and is closed (1008). A
// softphone sends a few frames a second (pings, a burst of ICE candidates per call), far
// below either. Only the session's reader uses it.
type messageLimit struct {
	rate, burst    float64
	tokens, excess float64
	last           time.Time
}

func newMessageLimit(rate float64, burst int, now time.Time) *messageLimit {
	return &messageLimit{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// take reports whether a frame arriving at now may be handled and, when it may not,
// whether the session has gone on abusing the limit long enough to be closed.
func (l *messageLimit) take(now time.Time) (ok, abuse bool) {
	refill := now.Sub(l.last).Seconds() * l.rate
	l.last = now
	l.tokens = min(l.burst, l.tokens+refill)
	l.excess = max(0, l.excess-refill)
	if l.tokens >= 1 {
		l.tokens--
		return true, false
	}
	l.excess++
	return false, l.excess > l.burst
}
