package pool

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/parkway/parkway/internal/usersfile"
	"github.com/parkway/parkway/park/parkwire"
)

// Config is one pool's settings: who it is, where it listens, whose passwords it checks,
// which pool it is paired with, and its Call Park settings (ARCHITECTURE.md §3).
type Config struct {
	// Name identifies the pool to the gateway and in logs, e.g. "pool-a".
	Name string
	// Domain is the SIP domain; empty means Name.
	Domain string
	// Realm is the digest realm of this pool's challenges; empty means Domain. Users
	// stored as HA1 hashes (User.HA1) must have been hashed with this realm, so a pool
	// pair whose users file holds hashes shares one realm (configs/pool-*.yaml: parkway).
	Realm string
	// Listen is the host:port the pool serves SIP on, UDP and TCP on the same port.
	// Port 0 picks a free port once; Stop and Start keep that port.
	Listen string
	// ParkListen is the park service's own SIP listener; empty means Listen's host, any port.
	ParkListen string
	// HTTP is the host:port of the pool's operations listener (/metrics, /healthz,
	// /readyz; OpsHandler); empty means none. Put it on loopback or a management
	// network: it needs no credentials.
	HTTP string
	// TLS adds a SIP-over-TLS listener (RFC 3261 §26.2, sipgo's TLS transport) for the
	// gateway and the peer pool; Listen stays open to phones and SIPp over UDP and TCP.
	// nil: no TLS.
	TLS *TLSConfig
	// Users are the digest credentials the registrar checks.
	Users []User
	// Peer is the paired pool; nil for a lone pool.
	Peer *Peer
	// Park configures this pool's Call Park service.
	Park ParkConfig
	// DigestAlgorithms are offered in this order in 401 challenges; empty means
	// SHA-256 then MD5 (RFC 8760 §2.4), or MD5 alone when a user is stored as an HA1
	// hash (which only MD5 can check). Phones that only know MD5 and answer the first
	// challenge (SIPp among them) need MD5 first or alone.
	DigestAlgorithms []string
	// UnauthenticatedCalls turns off what is on by default: the proxy demands digest
	// credentials (407) from requests that start a dialog or stand alone and claim one
	// of this pool's users in From, so nobody can call as alice. The peer pool and the
	// park service are not challenged (they are recognised by source address, see
	// node.trusted). The YAML form is "authenticateCalls: false"; the pool logs a warning
	// at start when calls are unauthenticated.
	UnauthenticatedCalls bool
	// FloodLimit bounds the requests one source IP may send (all but OPTIONS, ACK and
	// CANCEL); the excess is answered 503 with Retry-After. Zero fields take defaults.
	FloodLimit FloodLimit
	// Overload refuses new calls with 503 when the pool falls behind (overload.go);
	// off by default.
	Overload Overload
}

// FloodLimit is a token bucket per source IP: PerSecond requests a second on average,
// Burst at once. Zero means DefaultFloodRate and DefaultFloodBurst; SIPp benchmarks that
// drive thousands of requests a second from one address set them high.
type FloodLimit struct {
	PerSecond float64
	Burst     int
}

// Defaults for FloodLimit: far above what a phone needs (a few requests a minute) and
// enough for a gateway, which speaks for all its users from one address (its load
// benchmark signs in and calls 300 users, some 1,500 requests including the digest
// round trips, within seconds); far below a flood (the probe sent 2,000
// INVITEs a second). A deployment with a busier gateway raises it.
const (
	DefaultFloodRate  = 500
	DefaultFloodBurst = 1000
)

// User is one digest credential: a plain Password, or HA1, the hex MD5 of
// "name:realm:password" (internal/usersfile) for this pool's realm, as Kamailio and
// Asterisk store them. A user has one or the other.
type User struct {
	Name     string
	Password string
	HA1      string
}

// Peer is the paired pool: requests for its orbits, and for users this pool does not
// know, are proxied to Addr. Orbit ranges are globally unique, as in Lync, which is what
// lets a user registered at pool-a retrieve a call parked on pool-b.
type Peer struct {
	Name string
	Addr string
	// Transport is how requests reach the peer: "" or "UDP", or "TLS" — then Addr is
	// the peer's TLS listener and its certificate must verify against TLS.CAFile (this
	// pool needs a TLS section, whose listener the peer reaches it on likewise).
	Transport string
	Orbits    []Range
}

// TLSConfig is a pool's TLS listener and the CA it trusts (ARCHITECTURE.md §7).
type TLSConfig struct {
	// Listen is the host:port of the TLS listener; port 0 picks one once, kept by
	// Stop and Start like Listen's.
	Listen string
	// CertFile and KeyFile are this pool's certificate (PEM, its chain after it) and
	// key; the certificate must name the IP of Listen, which is what others dial.
	CertFile, KeyFile string
	// CAFile holds the CA certificates (PEM) the peer pool's certificate must verify
	// against; empty means the system's roots.
	CAFile string
	// Certificate and RootCAs, when set, are used instead of the files: the demo and
	// tests make them in memory (internal/devca).
	Certificate *tls.Certificate
	RootCAs     *x509.CertPool
}

// tlsTransport reports whether t names TLS.
func tlsTransport(t string) bool { return strings.EqualFold(t, "TLS") }

// FieldError says which config field is wrong and with what value, so an operator can fix
// the file without reading code.
type FieldError struct {
	Field string
	Value any
	Err   error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s = %v: %v", e.Field, e.Value, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// Validate checks the config and returns every problem found, each a *FieldError.
func (c Config) Validate() error {
	var errs []error
	bad := func(field string, value any, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Value: value, Err: fmt.Errorf(format, args...)})
	}
	if c.Name == "" || !isToken(c.Name) {
		bad("name", strconv.Quote(c.Name), "must be a non-empty SIP token (letters, digits, -._!%%*+`'~)")
	}
	if c.Domain != "" && !isHostname(c.Domain) {
		bad("domain", strconv.Quote(c.Domain), "must be a hostname or IP address")
	}
	if err := checkHostPort(c.Listen); err != nil {
		bad("listen", strconv.Quote(c.Listen), "%v", err)
	}
	if c.HTTP != "" {
		if err := checkHostPort(c.HTTP); err != nil {
			bad("http", strconv.Quote(c.HTTP), "%v", err)
		}
	}
	if c.ParkListen != "" {
		if err := checkHostPort(c.ParkListen); err != nil {
			bad("parkListen", strconv.Quote(c.ParkListen), "%v", err)
		}
	}
	if t := c.TLS; t != nil {
		if err := checkHostPort(t.Listen); err != nil {
			bad("tls.listen", strconv.Quote(t.Listen), "%v", err)
		} else if t.Listen == c.Listen && !strings.HasSuffix(t.Listen, ":0") {
			bad("tls.listen", strconv.Quote(t.Listen), "must differ from listen (UDP and TCP are bound there)")
		}
		if t.Certificate == nil && (t.CertFile == "" || t.KeyFile == "") {
			bad("tls.certFile", strconv.Quote(t.CertFile), "tls needs certFile and keyFile (`parkway certs` makes them)")
		}
	}
	seen := map[string]bool{}
	for i, u := range c.Users {
		f := fmt.Sprintf("users[%d]", i)
		switch {
		case u.Name == "" || !isUserPart(u.Name):
			bad(f+".name", strconv.Quote(u.Name), "must be a non-empty SIP user name")
		case u.Name == parkwire.ParkUser:
			bad(f+".name", strconv.Quote(u.Name), "is reserved for the park service")
		case seen[u.Name]:
			bad(f+".name", strconv.Quote(u.Name), "is listed twice")
		}
		seen[u.Name] = true
		switch {
		case u.Password == "" && u.HA1 == "":
			bad(f+".password", `""`, "must not be empty (or give ha1)")
		case u.Password != "" && u.HA1 != "":
			bad(f+".ha1", "(hidden)", "give a password or an ha1, not both")
		case u.HA1 != "" && !usersfile.IsHA1(u.HA1):
			bad(f+".ha1", "(hidden)", "must be 32 hex digits, MD5(user:realm:password)")
		}
	}
	for i, a := range c.DigestAlgorithms {
		if _, ok := digestHash(a); !ok {
			bad(fmt.Sprintf("digestAlgorithms[%d]", i), strconv.Quote(a), "must be SHA-256 or MD5")
		} else if c.hasHA1Users() && !strings.EqualFold(a, "MD5") {
			bad(fmt.Sprintf("digestAlgorithms[%d]", i), strconv.Quote(a), "cannot check users stored as ha1 (MD5 only): list MD5 alone")
		}
	}
	if c.Realm != "" && !isRealm(c.Realm) {
		bad("realm", strconv.Quote(c.Realm), "must be printable ASCII without quotes or backslashes")
	}
	if c.FloodLimit.PerSecond < 0 {
		bad("floodLimit.perSecond", c.FloodLimit.PerSecond, "must not be negative")
	}
	if c.FloodLimit.Burst < 0 {
		bad("floodLimit.burst", c.FloodLimit.Burst, "must not be negative")
	}
	if c.Overload.MaxDelay < 0 || c.Overload.RetryAfter < 0 {
		bad("overload", c.Overload, "durations must not be negative")
	}
	if err := c.Park.Validate(); err != nil {
		errs = append(errs, err) // park's own *FieldError names "park config: <field> = <value>"
	}
	own := c.Park.Orbits
	for i, r := range own {
		if err := r.Check(); err != nil {
			bad(fmt.Sprintf("park.orbits[%d]", i), r.Start+"-"+r.End, "%v", err)
		}
		for _, u := range c.Users {
			if inRange(r, u.Name) {
				bad(fmt.Sprintf("park.orbits[%d]", i), r.Start+"-"+r.End, "contains user %q", u.Name)
			}
		}
	}
	if p := c.Peer; p != nil {
		if p.Name == "" || !isToken(p.Name) {
			bad("peer.name", strconv.Quote(p.Name), "must be a non-empty SIP token")
		} else if p.Name == c.Name {
			bad("peer.name", strconv.Quote(p.Name), "must differ from name")
		}
		if err := checkHostPort(p.Addr); err != nil {
			bad("peer.addr", strconv.Quote(p.Addr), "%v", err)
		} else if _, port, _ := net.SplitHostPort(p.Addr); port == "0" {
			bad("peer.addr", strconv.Quote(p.Addr), "needs a real port")
		} else if p.Addr == c.Listen {
			bad("peer.addr", strconv.Quote(p.Addr), "is this pool's own address")
		}
		switch {
		case p.Transport != "" && !strings.EqualFold(p.Transport, "UDP") && !tlsTransport(p.Transport):
			bad("peer.transport", strconv.Quote(p.Transport), "must be udp or tls")
		case tlsTransport(p.Transport) && c.TLS == nil:
			bad("peer.transport", strconv.Quote(p.Transport), "needs this pool's tls section (its CA verifies the peer, its listener is where the peer reaches us)")
		}
		for i, r := range p.Orbits {
			f := fmt.Sprintf("peer.orbits[%d]", i)
			if err := r.Check(); err != nil {
				bad(f, r.Start+"-"+r.End, "%v", err)
				continue
			}
			for _, o := range own {
				if o.Check() == nil && o.Overlaps(r) {
					bad(f, r.Start+"-"+r.End, "overlaps this pool's orbits %s-%s (orbits are globally unique)", o.Start, o.End)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// hasHA1Users reports whether any user is stored as an HA1 hash.
func (c Config) hasHA1Users() bool {
	for _, u := range c.Users {
		if u.HA1 != "" {
			return true
		}
	}
	return false
}

// realm is the digest realm: Realm, else Domain, else Name.
func (c Config) realm() string {
	switch {
	case c.Realm != "":
		return c.Realm
	case c.Domain != "":
		return c.Domain
	}
	return c.Name
}

// isRealm accepts what can go in a quoted realm and in "user:realm:password".
func isRealm(s string) bool {
	for i := 0; i < len(s); i++ {
		if ch := s[i]; ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\' {
			return false
		}
	}
	return s != ""
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("must be host:port")
	}
	if _, err := netip.ParseAddr(host); err != nil {
		// Only IP literals: the pool never resolves names, so it never sends a packet to
		// an address nobody configured.
		return errors.New("host must be an IP address")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return errors.New("port must be 0–65535")
	}
	return nil
}

func isHostname(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	if len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '.') {
			return false
		}
	}
	return s != ""
}

// isUserPart accepts the characters RFC 3261 §25.1 allows unescaped in a user part that
// also make sense as a login name.
func isUserPart(s string) bool {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || strings.IndexByte("-_.!~*'()&=+$,;?/", ch) >= 0) {
			return false
		}
	}
	return s != ""
}
