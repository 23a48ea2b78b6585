package ua

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Defaults for Config; each is what a softphone gateway would ship with.
const (
	// DefaultExpires is the registration lifetime asked for. Short enough that a
	// binding left behind on a pool the user moved away from dies within minutes,
	// long enough that 1,000 users refresh at under 6 REGISTERs a second.
	DefaultExpires = 5 * time.Minute
	// DefaultRefreshAt is the share of the granted lifetime after which a binding is
	// refreshed: early enough to retry twice before it lapses.
	DefaultRefreshAt = 0.6
	// DefaultParallelism bounds concurrent REGISTERs during Redirect, so moving a
	// thousand users does not look like a flood to the backup pool (whose
	// MaxInFlight answers 503 beyond it).
	DefaultParallelism = 64
	// DefaultRequestTimeout bounds one non-INVITE transaction (REGISTER, REFER,
	// SUBSCRIBE…); RFC 3261's Timer F is 32 s, far too long for a user waiting.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultWatchExpires is the park-watch subscription lifetime asked for.
	DefaultWatchExpires = 10 * time.Minute
	// DefaultReferTimeout is how long a transfer or park waits for the final NOTIFY.
	DefaultReferTimeout = 40 * time.Second
)

// Pool is a SIP pool the gateway's users can register with: its name (as the DR
// controller calls it), the address of its registrar and proxy, and its SIP domain.
type Pool struct {
	Name   string
	Addr   string // host:port: its UDP listener, or its TLS listener with Transport TLS
	Domain string // empty means Name, as pool.Config does
	// Transport is how the gateway reaches the pool: "" or "UDP", or "TLS" (SIP over
	// TLS, RFC 3261 §26.2; the pool's certificate must name Addr's IP and verify
	// against Config.TLS). Over TLS, out-of-dialog requests (REGISTER, INVITE,
	// SUBSCRIBE) carry a Route with transport=tls; the pool answers on the connection.
	Transport string
}

// tls reports whether the pool is reached over TLS.
func (p Pool) tls() bool { return strings.EqualFold(p.Transport, "TLS") }

// transport is the sipgo transport name for requests to the pool.
func (p Pool) transport() string {
	if p.tls() {
		return "TLS"
	}
	return "UDP"
}

func (p Pool) domain() string {
	if p.Domain != "" {
		return p.Domain
	}
	return p.Name
}

// Credentials finds a user's digest password. The gateway keeps these in its config
// (issue 4: "digest credentials from the gateway config").
type Credentials interface {
	Password(user string) (string, bool)
}

// StaticCredentials is a Credentials backed by a map of user → password.
type StaticCredentials map[string]string

// Password implements Credentials.
func (s StaticCredentials) Password(user string) (string, bool) {
	p, ok := s[user]
	return p, ok
}

// Config configures a Manager. Zero values mean the defaults above; NewManager never
// modifies the caller's Config.
type Config struct {
	// Listen is the host:port of the gateway's one SIP listener, UDP and TCP on the
	// same port. Default "127.0.0.1:0". The host must be an IP: it goes into every
	// user's Contact.
	Listen string
	// Pools are the pools users may register with; Active names the one they start on.
	Pools  []Pool
	Active string
	// Credentials are the users' digest passwords (or HA1 hashes, SecretCredentials).
	Credentials Credentials
	// TLS is the client TLS configuration for pools with Transport TLS: its RootCAs
	// verify their certificates (nil: the system's roots). Only a CA is needed: the
	// gateway presents no certificate of its own.
	TLS *tls.Config
	// Expires is the registration lifetime requested; RefreshAt the share of the
	// granted lifetime after which it is refreshed.
	Expires   time.Duration
	RefreshAt float64
	// Parallelism bounds concurrent REGISTERs in Redirect.
	Parallelism int
	// RequestTimeout bounds a non-INVITE transaction; ReferTimeout a transfer.
	RequestTimeout time.Duration
	ReferTimeout   time.Duration
	// WatchExpires is the park-watch subscription lifetime asked for (RFC 6665
	// §4.1.2.1); default 10 minutes, refreshed at RefreshAt of what is granted.
	WatchExpires time.Duration
	// UserAgent is the User-Agent header value; default "parkway-gateway".
	UserAgent string
	// Logger receives the manager's logs and sipgo's; nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	c.Pools = append([]Pool(nil), c.Pools...)
	if c.Listen == "" {
		c.Listen = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return c, fmt.Errorf("Listen = %q: must be host:port", c.Listen)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return c, fmt.Errorf("Listen = %q: host must be an IP address (it goes into Contact)", c.Listen)
	}
	if len(c.Pools) == 0 {
		return c, errors.New("Pools: at least one pool is needed")
	}
	seen := map[string]bool{}
	for i, p := range c.Pools {
		if p.Name == "" || seen[p.Name] {
			return c, fmt.Errorf("Pools[%d].Name = %q: must be non-empty and unique", i, p.Name)
		}
		seen[p.Name] = true
		if _, err := netip.ParseAddrPort(p.Addr); err != nil {
			return c, fmt.Errorf("Pools[%d].Addr = %q: must be ip:port", i, p.Addr)
		}
		if p.Transport != "" && !p.tls() && !strings.EqualFold(p.Transport, "UDP") {
			return c, fmt.Errorf("Pools[%d].Transport = %q: must be UDP or TLS", i, p.Transport)
		}
	}
	if c.Active == "" {
		c.Active = c.Pools[0].Name
	}
	if !seen[c.Active] {
		return c, fmt.Errorf("Active = %q: not one of Pools", c.Active)
	}
	if c.Credentials == nil {
		return c, errors.New("Credentials: required")
	}
	if c.Expires <= 0 {
		c.Expires = DefaultExpires
	}
	if c.RefreshAt <= 0 || c.RefreshAt >= 1 {
		c.RefreshAt = DefaultRefreshAt
	}
	if c.Parallelism <= 0 {
		c.Parallelism = DefaultParallelism
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.ReferTimeout <= 0 {
		c.ReferTimeout = DefaultReferTimeout
	}
	if c.WatchExpires <= 0 {
		c.WatchExpires = DefaultWatchExpires
	}
	if c.UserAgent == "" {
		c.UserAgent = "parkway-gateway"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
