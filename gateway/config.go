package gateway

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/parkway/parkway/gateway/auth"
	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/internal/demousers"
	"github.com/parkway/parkway/media"
	"github.com/parkway/parkway/metrics"
	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/static"
)

// Controller is what the gateway needs from the disaster-recovery controller
// (*dr.Controller): the state now, and a call on every change. It is an interface so
// tests drive phases directly and a distributed phase store can stand in later.
type Controller interface {
	Snapshot() dr.Snapshot
	// Subscribe calls fn with every new snapshot until cancel is called. fn must not
	// block; the gateway's fn only stores and signals.
	Subscribe(fn func(dr.Snapshot)) (cancel func())
}

// Defaults for Config. The heartbeat numbers make a dead browser (laptop lid closed,
// network gone) noticed within 6–8 s while costing one small frame per 2 s per tab.
const (
	DefaultAuthTimeout  = 5 * time.Second
	DefaultPingInterval = 2 * time.Second
	DefaultPeerTimeout  = 6 * time.Second
	DefaultSessionTTL   = 12 * time.Hour
	DefaultSendQueue    = 64
	// DefaultMaxSessions bounds websocket sessions: each costs about 32 KiB in the
	// gateway (BenchmarkFanout), so 50,000 is some 1.6 GB.
	DefaultMaxSessions = 50000
	// DefaultDrainLimit is how much of one oversized message the gateway reads and
	// throws away to answer it with a JSON error and keep the session; beyond it the
	// frame is answered and the connection closed with 1009.
	DefaultDrainLimit = 1 << 20
	// DefaultMaxSessionsPerIP bounds the websockets of one client address: a person
	// with many tabs stays well under it, a script opening thousands does not.
	// DemoMaxSessionsPerIP is what `parkway demo` allows, where every tab, test and
	// browser of the machine comes from 127.0.0.1.
	DefaultMaxSessionsPerIP = 20
	DemoMaxSessionsPerIP    = 500
	// DefaultReauthLead: a session is asked for a fresh token this long before its
	// token expires.
	DefaultReauthLead = time.Minute
	// DefaultMessageRate and DefaultMessageBurst bound the frames one session sends: a
	// softphone sends a ping every 2 s and a burst of ICE candidates per call, so 50 a
	// second in bursts of 100 is never reached by one, and a flood is cut (issue 13).
	DefaultMessageRate  = 50
	DefaultMessageBurst = 100
	// DefaultMaxCallsPerUser bounds the calls one user has going (each costs a media
	// leg: sockets and goroutines); the next call or retrieve is refused.
	DefaultMaxCallsPerUser = 4
	// HTTP limits (Serve): a request, body included, must arrive within
	// DefaultReadTimeout and its response be written within DefaultWriteTimeout (the
	// softphone's WASM is a few MB); a keep-alive connection idle for DefaultIdleTimeout
	// is closed; request headers over DefaultMaxHeaderBytes get 431. A websocket is
	// bound by none of them once upgraded (its heartbeat watches it instead).
	DefaultReadTimeout    = 30 * time.Second
	DefaultWriteTimeout   = 60 * time.Second
	DefaultIdleTimeout    = 2 * time.Minute
	DefaultMaxHeaderBytes = 16 << 10
)

// DemoUsers are the names of the demo's users (ARCHITECTURE.md §4): [demousers.All], whose
// passwords the pools check.
var DemoUsers = demousers.Names()

// Config is a gateway's settings. The zero value of every optional field means its
// default; New never modifies the caller's Config.
type Config struct {
	// Controller supplies the DR state pushed to sessions. Required.
	Controller Controller
	// Admin serves /api/dr and /api/demo/ (admin.Handler); nil leaves them unmounted.
	Admin http.Handler

	// Registrar signs each authenticated user in to SIP (SIPUsers over a ua.Manager)
	// and out again SignOutGrace after their last session ends. Nil means no SIP: the
	// sessions carry the DR state and refuse calls, as before the user agent existed.
	Registrar    Registrar
	SignOutGrace time.Duration
	// ReattachGrace is how long a call whose tab went away stays up for a tab of its
	// user to take its media back (issue 10); then it ends with "the caller's
	// browser went away". ReattachHold is what the far end hears meanwhile, once the
	// tab's media is gone: media.HoldSilence (the default) or media.HoldMusic.
	ReattachGrace time.Duration
	ReattachHold  media.Hold

	// SIP and Media, both set, make the gateway carry calls (issue 4): each call gets
	// a media.Leg from Media toward the browser, bridged to a call of the user's
	// agent in SIP. Registrar defaults to SIPUsers(SIP). MediaAddr is where bridges
	// bind their SIP-side RTP sockets; zero means 127.0.0.1.
	SIP       *ua.Manager
	Media     *media.Factory
	MediaAddr netip.Addr

	// Demo enables sign-in by name (POST /api/session) for DemoUsers.
	Demo bool
	// DemoUsers overrides the demo's user list.
	DemoUsers []string

	// AllowedOrigins are browser origins ("http://host:port"), besides the gateway's
	// own, that may open /ws and make state-changing API calls. A page from any other
	// origin is refused with 403.
	AllowedOrigins []string
	// Gateways are the base URLs (http[s]://host[:port]) of the gateways of this
	// gateway's cluster, itself included, in the order clients try them; each welcome
	// lists their websockets (signaling.Welcome.Gateways), and their pages may open
	// /ws here like AllowedOrigins. Empty: clients know only the page's own gateway.
	Gateways []string
	// Hosts are the names this gateway answers to (the Host header, without port);
	// any other gets 421, which stops DNS rebinding. IP literals always pass. Empty
	// means "localhost" in demo mode and any name otherwise.
	Hosts []string
	// EmbedOrigins may frame widget.html (CSP frame-ancestors) and, being where the
	// widget's host pages live, are allowed like AllowedOrigins (issue 6) — except by
	// the admin API (/api/dr, /api/demo/), which only the gateway's own pages and
	// AllowedOrigins may change (issue 13).
	EmbedOrigins []string
	// EmbedKey authenticates host backends asking for widget tickets (POST /api/tickets,
	// Authorization: Bearer KEY); empty means no tickets are issued. TicketTTL is how long
	// a ticket waits to be exchanged (DefaultTicketTTL); Tickets remembers spent ones
	// (nil: an auth.MemorySpent in this process). See tickets.go.
	EmbedKey  []byte
	TicketTTL time.Duration
	Tickets   auth.SpentStore

	// SessionKey signs session tokens (at least 32 bytes); empty means a random key
	// per process, so a restart signs everyone out.
	SessionKey []byte
	// SessionTTL is how long a session token is valid.
	SessionTTL time.Duration

	// Assets are the web files; nil means the embedded static.FS.
	Assets fs.FS

	// AuthTimeout bounds the wait for the first (auth) frame.
	AuthTimeout time.Duration
	// PingInterval is how often the gateway pings each session.
	PingInterval time.Duration
	// PeerTimeout closes a session that sent nothing for this long, and bounds how long
	// one frame may take to write.
	PeerTimeout time.Duration
	// SendQueue bounds replies waiting to be written to one session; a client that lets
	// it fill is closed. Pushed state does not count: only the latest is kept.
	SendQueue int
	// DrainLimit: see DefaultDrainLimit.
	DrainLimit int64
	// MaxSessions bounds connected websockets (authenticated or not); beyond it /ws
	// answers 503, and a softphone retries with backoff.
	MaxSessions int
	// MessageRate (per second) and MessageBurst are each session's token bucket over the
	// frames it sends: the excess is answered "rate-limited", and a session that keeps
	// it up is closed with 1008. Zero means the defaults.
	MessageRate  float64
	MessageBurst int
	// MaxSessionsPerIP bounds the websockets one client address may have open at once
	// (authenticated or not; zero: DefaultMaxSessionsPerIP, loopback included); beyond
	// it /ws answers 429 (perip.go). The client address is the connection's, or — only
	// when that is one of TrustedProxies — the nearest untrusted address in
	// X-Forwarded-For.
	MaxSessionsPerIP int
	TrustedProxies   []netip.Prefix
	// ReauthLead is how long before its token expires a session is asked to
	// re-authenticate (a reauth message); zero: DefaultReauthLead, at most half of
	// SessionTTL. The session is closed at expiry unless an auth with a fresh token came.
	ReauthLead time.Duration
	// MaxCallsPerUser bounds the calls a user has going across all their tabs (zero:
	// DefaultMaxCallsPerUser); a call or retrieve beyond it is refused "too-many-calls".
	MaxCallsPerUser int
	// HTTP limits of Serve; zero means the Default* above.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	MaxHeaderBytes                         int

	Logger *slog.Logger

	// Metrics is the gateway's Prometheus metrics, served at /metrics (ops.go); nil:
	// a registry of its own is made, so /metrics always answers.
	Metrics *metrics.Gateway
	// DrainTimeout is how long Drain (SIGTERM) waits for calls to end before the
	// gateway closes anyway; zero: DefaultDrainTimeout.
	DrainTimeout time.Duration
}

// DefaultDrainTimeout is how long a draining gateway waits for its calls.
const DefaultDrainTimeout = 30 * time.Second

// WithDefaults is c with every zero setting at its default, as New applies them.
func (c Config) WithDefaults() Config {
	dur := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	dur(&c.AuthTimeout, DefaultAuthTimeout)
	if c.Registrar == nil && c.SIP != nil {
		c.Registrar = SIPUsers(c.SIP)
	}
	if !c.MediaAddr.IsValid() {
		c.MediaAddr = netip.MustParseAddr("127.0.0.1")
	}
	dur(&c.PingInterval, DefaultPingInterval)
	dur(&c.PeerTimeout, DefaultPeerTimeout)
	dur(&c.SessionTTL, DefaultSessionTTL)
	dur(&c.TicketTTL, DefaultTicketTTL)
	if c.Tickets == nil {
		c.Tickets = &auth.MemorySpent{}
	}
	dur(&c.SignOutGrace, DefaultSignOutGrace)
	dur(&c.ReattachGrace, DefaultReattachGrace)
	if c.ReattachHold == media.HoldNothing {
		c.ReattachHold = media.HoldSilence
	}
	if c.SendQueue <= 0 {
		c.SendQueue = DefaultSendQueue
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.MessageRate <= 0 {
		c.MessageRate = DefaultMessageRate
	}
	if c.MessageBurst <= 0 {
		c.MessageBurst = DefaultMessageBurst
	}
	dur(&c.ReadTimeout, DefaultReadTimeout)
	dur(&c.DrainTimeout, DefaultDrainTimeout)
	dur(&c.WriteTimeout, DefaultWriteTimeout)
	dur(&c.IdleTimeout, DefaultIdleTimeout)
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxCallsPerUser <= 0 {
		c.MaxCallsPerUser = DefaultMaxCallsPerUser
	}
	if c.MaxSessionsPerIP <= 0 {
		c.MaxSessionsPerIP = DefaultMaxSessionsPerIP
	}
	dur(&c.ReauthLead, min(DefaultReauthLead, c.SessionTTL/2))
	if c.DrainLimit <= 0 {
		c.DrainLimit = DefaultDrainLimit
	}
	if c.DrainLimit < signaling.MaxMessageSize {
		c.DrainLimit = signaling.MaxMessageSize
	}
	if len(c.DemoUsers) == 0 {
		c.DemoUsers = DemoUsers
	}
	c.DemoUsers = append([]string(nil), c.DemoUsers...)
	c.AllowedOrigins = append([]string(nil), c.AllowedOrigins...)
	c.EmbedOrigins = append([]string(nil), c.EmbedOrigins...)
	c.Gateways = append([]string(nil), c.Gateways...)
	c.EmbedKey = append([]byte(nil), c.EmbedKey...)
	c.Hosts = append([]string(nil), c.Hosts...)
	if c.Assets == nil {
		c.Assets = static.FS
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// validate names the field and value that is wrong, every one of them.
func (c Config) validate() error {
	var errs []error
	if c.Controller == nil {
		errs = append(errs, errors.New("controller: is required"))
	}
	if c.PeerTimeout <= c.PingInterval {
		errs = append(errs, fmt.Errorf("peerTimeout %v: must be longer than pingInterval %v, or every session times out", c.PeerTimeout, c.PingInterval))
	}
	for i, o := range c.AllowedOrigins {
		if _, err := ParseOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("allowedOrigins[%d] %q: %w", i, o, err))
		}
	}
	if len(c.Gateways) > signaling.MaxGateways {
		errs = append(errs, fmt.Errorf("gateways: %d listed; at most %d", len(c.Gateways), signaling.MaxGateways))
	}
	for i, g := range c.Gateways {
		if _, err := signaling.GatewayWebsocket(g); err != nil {
			errs = append(errs, fmt.Errorf("gateways[%d]: %w", i, err))
		}
	}
	for i, o := range c.EmbedOrigins {
		if _, err := ParseOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("embedOrigins[%d] %q: %w", i, o, err))
		}
	}
	if n := len(c.EmbedKey); n > 0 && n < MinEmbedKeySize {
		errs = append(errs, fmt.Errorf("embedKey: %d bytes; at least %d are needed", n, MinEmbedKeySize))
	}
	return errors.Join(errs...)
}

// ParseOrigin accepts exactly what a browser sends in Origin: scheme://host[:port], no
// path, query or user info, scheme http or https. It returns the normalized form.
func ParseOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", errors.New("scheme must be http or https")
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("must be scheme://host[:port] and nothing else")
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}
