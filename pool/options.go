package pool

import (
	"github.com/parkway/parkway/metrics"
	"log/slog"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Defaults for Options; each is what a small PBX would ship with.
const (
	DefaultMinExpires     = 60 * time.Second // RFC 3261 §10.2.8 example value; below it, 423.
	DefaultMaxExpires     = 2 * time.Hour
	DefaultExpires        = time.Hour // RFC 3261 §10.3 step 6 suggests one hour.
	DefaultNonceTTL       = 5 * time.Minute
	DefaultMaxContacts    = 10
	DefaultMaxTCPConns    = 1024
	DefaultMaxInFlight    = 2048
	DefaultRetryAfter     = 30 * time.Second
	DefaultInviteTimeout  = 3 * time.Minute // RFC 3261 §16.6 step 11: Timer C > 3 min.
	DefaultPeerTimeout    = 2 * time.Second // four T1s: a live peer answers 100 in milliseconds
	DefaultTCPIdleTimeout = 10 * time.Minute

	// Digest failures per source IP and user (limits.go): 200 ms, 400 ms, 800 ms,
	// 1.6 s, then the fifth failure within a minute (answered after 3.2 s) locks the
	// pair out for a minute, every answer meanwhile a 403 after 3.2 s.
	DefaultAuthFailureLimit  = 5
	DefaultAuthFailureWindow = time.Minute
	DefaultAuthLockout       = time.Minute
	DefaultAuthFailureDelay  = 200 * time.Millisecond
)

// Options tune a Pool; the zero value means the defaults above. New never modifies the
// caller's Options.
type Options struct {
	Logger *slog.Logger
	// Metrics is where the pool's metrics go (served by OpsHandler); nil: a registry
	// of the pool's own, without the process collectors.
	Metrics *metrics.Pool

	MinExpires     time.Duration
	MaxExpires     time.Duration
	DefaultExpires time.Duration
	NonceTTL       time.Duration
	// MaxContacts bounds contacts per user so a registrar cannot be grown without bound.
	MaxContacts int
	// MaxTCPConns bounds concurrent TCP connections; more are closed on accept.
	MaxTCPConns int
	// MaxInFlight bounds requests being handled at once; more are answered 503, except
	// requests inside a dialog, ACK and CANCEL, which finish calls already taken.
	MaxInFlight int
	// RetryAfter is what a draining or overloaded pool tells clients to wait.
	RetryAfter time.Duration
	// InviteTimeout is the proxy's Timer C: an INVITE with no final answer by then is
	// cancelled downstream and answered 408.
	InviteTimeout time.Duration
	// PeerTimeout is how long an INVITE forwarded to the paired pool may go without
	// any answer (not even 100 Trying, which a live pool sends at once, §16.2) before
	// the peer counts as down for it, and the pool answers as if it had no peer: 404
	// for a user it does not know, 480 for one of its own. Without it, a call to an
	// unknown user during failover would wait for Timer B (32 s) on the dead home pool.
	PeerTimeout time.Duration
	// TCPIdleTimeout closes a TCP connection that sends nothing for this long.
	TCPIdleTimeout time.Duration
	// AuthFailureLimit digest failures from one source IP for one user name within
	// AuthFailureWindow lock that pair out for AuthLockout: every answer is 403 then,
	// whatever the password. The n-th failure is answered after AuthFailureDelay·2ⁿ⁻¹,
	// and so is every answer during a lock-out (with n = AuthFailureLimit); the doubling
	// stops at 2⁸ times the first delay.
	AuthFailureLimit  int
	AuthFailureWindow time.Duration
	AuthLockout       time.Duration
	AuthFailureDelay  time.Duration
	// Now is the registrar's and the digest throttle's clock; tests move it to expire bindings without sleeping.
	Now func() time.Time

	// testPickupTimeout shortens the park pickup timeout below Lync's 10 s minimum;
	// set only by this package's tests.
	testPickupTimeout time.Duration
	// testBeforeTurn runs as a request reaches the pool's handler, before it waits for
	// its turn in its dialog: it stands for sipgo's scheduler delaying a goroutine.
	testBeforeTurn func(*sip.Request)
	// testBeforeRelay runs as the proxy takes a downstream response, before relaying
	// it: a slow relay goroutine, for the same tests.
	testBeforeRelay func(*sip.Response)
	// testBeforeForward runs after an INVITE was answered 100 Trying, before it is sent
	// on: a slow proxy goroutine, while the caller's CANCEL arrives.
	testBeforeForward func(sip.ServerTransaction)
	// testStateful turns the stateless relay of in-dialog requests off (stateless.go),
	// for BenchmarkInDialogRelay's comparison.
	testStateful bool
}

func (o Options) withDefaults() Options {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&o.MinExpires, DefaultMinExpires)
	set(&o.MaxExpires, DefaultMaxExpires)
	set(&o.DefaultExpires, DefaultExpires)
	set(&o.NonceTTL, DefaultNonceTTL)
	set(&o.RetryAfter, DefaultRetryAfter)
	set(&o.InviteTimeout, DefaultInviteTimeout)
	set(&o.PeerTimeout, DefaultPeerTimeout)
	set(&o.TCPIdleTimeout, DefaultTCPIdleTimeout)
	set(&o.AuthFailureWindow, DefaultAuthFailureWindow)
	set(&o.AuthLockout, DefaultAuthLockout)
	set(&o.AuthFailureDelay, DefaultAuthFailureDelay)
	if o.AuthFailureLimit <= 0 {
		o.AuthFailureLimit = DefaultAuthFailureLimit
	}
	if o.MaxExpires < o.MinExpires {
		o.MaxExpires = o.MinExpires
	}
	if o.DefaultExpires < o.MinExpires {
		o.DefaultExpires = o.MinExpires
	}
	if o.DefaultExpires > o.MaxExpires {
		o.DefaultExpires = o.MaxExpires
	}
	if o.MaxContacts <= 0 {
		o.MaxContacts = DefaultMaxContacts
	}
	if o.MaxTCPConns <= 0 {
		o.MaxTCPConns = DefaultMaxTCPConns
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
