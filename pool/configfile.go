package pool

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/parkway/parkway/internal/strictyaml"
	"github.com/parkway/parkway/internal/usersfile"
)

// The YAML form of Config, parsed strictly: an unknown or misspelt field is an error, so a
// typo cannot silently fall back to a default. Example (configs/pool-a.yaml):
//
//	name: pool-a
//	listen: 127.0.0.1:5070
//	http: 127.0.0.1:9070          # optional: /metrics, /healthz, /readyz (no credentials: keep it on loopback)
//	realm: parkway                     # optional digest realm; default domain, else name
//	users:                             # or usersFile, not both
//	  - {name: alice, password: alice-demo}
//	  - {name: bob, ha1: 0123…cdef}    # HA1 = MD5("bob:<realm>:password"), `parkway passwd`
//	usersFile: users.yaml              # the gateway's sip.credentialsFile format (internal/usersfile);
//	                                   # hashed entries must name this pool's realm
//	peer: {name: pool-b, addr: 127.0.0.1:5080, orbits: ["8000-8099"]}
//	                                   # transport: tls → addr is pool-b's tls.listen (configs/pool-a-tls.yaml)
//	tls:                               # optional: SIP over TLS for the gateway and the peer pool
//	  listen: 127.0.0.1:5071           # UDP and TCP stay on listen, for phones and SIPp
//	  certFile: secrets/sip/pool-a.crt # this pool's certificate (naming listen's IP) and key,
//	  keyFile: secrets/sip/pool-a.key  #   relative to the config; `parkway certs` makes them
//	  caFile: secrets/sip/ca.crt       # verifies the peer pool's certificate
//	park:
//	  orbits: ["7000-7099"]
//	  pickupTimeout: 90s
//	  musicOnHold: true
//	  musicFile: builtin:pool-a    # or a path to an 8 kHz WAV/µ-law file, relative to the config
//	  maxPickupAttempts: 1
//	  onTimeoutURI: ""
//	  survivable: false   # opt-in: take re-parks of calls whose park pool died (issue #10)
//	digestAlgorithms: [SHA-256, MD5]   # optional; this order is the default
//	authenticateCalls: true            # optional, the default: 407 digest on calls from our users
//	floodLimit: {perSecond: 500, burst: 1000}   # optional; requests per source IP, excess 503
//	overload: {maxDelay: 30ms, retryAfter: 2s}  # optional: refuse new calls 503 when behind (default: only when busy, 100ms; {off: true}: never)
type fileConfig struct {
	Name       string       `yaml:"name"`
	Domain     string       `yaml:"domain"`
	Realm      string       `yaml:"realm"`
	Listen     string       `yaml:"listen"`
	ParkListen string       `yaml:"parkListen"`
	HTTP       string       `yaml:"http"`
	Users      []fileUser   `yaml:"users"`
	UsersFile  string       `yaml:"usersFile"`
	Peer       *filePeer    `yaml:"peer"`
	Park       filePark     `yaml:"park"`
	Digest     []string     `yaml:"digestAlgorithms"`
	AuthCalls  *bool        `yaml:"authenticateCalls"`
	Flood      fileFlood    `yaml:"floodLimit"`
	Overload   fileOverload `yaml:"overload"`
	TLS        *fileTLS     `yaml:"tls"`
}

type fileTLS struct {
	Listen   string `yaml:"listen"`
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
	CAFile   string `yaml:"caFile"`
}

// config is the tls section with its files taken relative to dir.
func (ft *fileTLS) config(dir string) *TLSConfig {
	if ft == nil {
		return nil
	}
	rel := func(path string) string {
		if path != "" && !filepath.IsAbs(path) && dir != "" {
			return filepath.Join(dir, path)
		}
		return path
	}
	return &TLSConfig{Listen: ft.Listen, CertFile: rel(ft.CertFile), KeyFile: rel(ft.KeyFile), CAFile: rel(ft.CAFile)}
}

type fileFlood struct {
	PerSecond float64 `yaml:"perSecond"`
	Burst     int     `yaml:"burst"`
}

type fileOverload struct {
	MaxDelay   string `yaml:"maxDelay"`
	RetryAfter string `yaml:"retryAfter"`
	Off        bool   `yaml:"off"`
}

// config reads the durations; a bad one is an error naming its key.
func (o fileOverload) config(errs *fileErrors) Overload {
	out := Overload{Off: o.Off}
	for _, f := range []struct {
		key, v string
		to     *time.Duration
	}{{"overload.maxDelay", o.MaxDelay, &out.MaxDelay}, {"overload.retryAfter", o.RetryAfter, &out.RetryAfter}} {
		if f.v == "" {
			continue
		}
		d, err := time.ParseDuration(f.v)
		if err != nil || d < 0 {
			errs.add(f.key, fmt.Sprintf("%q", f.v), errors.New("must be a duration like 30ms or 2s"))
			continue
		}
		*f.to = d
	}
	return out
}

type fileUser struct {
	Name     string `yaml:"name"`
	Password string `yaml:"password"`
	HA1      string `yaml:"ha1"`
}

type filePeer struct {
	Name      string   `yaml:"name"`
	Addr      string   `yaml:"addr"`
	Transport string   `yaml:"transport"`
	Orbits    []string `yaml:"orbits"`
}

type filePark struct {
	Orbits            []string `yaml:"orbits"`
	PickupTimeout     string   `yaml:"pickupTimeout"`
	MusicOnHold       *bool    `yaml:"musicOnHold"`
	MusicFile         string   `yaml:"musicFile"`
	MaxPickupAttempts int      `yaml:"maxPickupAttempts"`
	OnTimeoutURI      string   `yaml:"onTimeoutURI"`
	Survivable        bool     `yaml:"survivable"`
}

// maxConfigSize bounds what ParseConfig reads; a pool config is a few hundred bytes.
const maxConfigSize = 1 << 20

// ParseConfig parses a pool's YAML config and validates it. Relative file paths in it
// (musicFile) are taken relative to dir, the config file's directory. Errors name the
// field and the value.
func ParseConfig(data []byte, dir string) (Config, error) {
	var f fileConfig
	if err := strictyaml.Decode(data, maxConfigSize, &f); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	var errs fileErrors
	cfg := Config{
		Name:                 f.Name,
		Domain:               f.Domain,
		Realm:                f.Realm,
		Listen:               f.Listen,
		ParkListen:           f.ParkListen,
		HTTP:                 f.HTTP,
		TLS:                  f.TLS.config(dir),
		Peer:                 f.Peer.peer(&errs),
		Park:                 f.Park.config(dir, &errs),
		DigestAlgorithms:     f.Digest,
		UnauthenticatedCalls: f.AuthCalls != nil && !*f.AuthCalls,
		FloodLimit:           FloodLimit(f.Flood),
		Overload:             f.Overload.config(&errs),
	}
	cfg.Users = f.users(cfg.realm(), dir, &errs)
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("config: %w", errors.Join(errs...))
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// fileErrors collects what the file form gets wrong before Validate sees the Config,
// each a *FieldError, so that one run reports them all.
type fileErrors []error

func (e *fileErrors) add(field string, value any, err error) {
	*e = append(*e, &FieldError{Field: field, Value: value, Err: err})
}

// users are the inline users, or those of usersFile (relative to dir), whose hashed
// entries must have been made for realm.
func (f *fileConfig) users(realm, dir string, errs *fileErrors) []User {
	var users []User
	for _, u := range f.Users {
		users = append(users, User{Name: u.Name, Password: u.Password, HA1: strings.ToLower(u.HA1)})
	}
	if f.UsersFile == "" {
		return users
	}
	if len(f.Users) > 0 {
		errs.add("usersFile", fmt.Sprintf("%q", f.UsersFile), errors.New("give users or usersFile, not both"))
		return users
	}
	path := f.UsersFile
	if !filepath.IsAbs(path) && dir != "" {
		path = filepath.Join(dir, path)
	}
	entries, err := usersfile.Load(path)
	if err != nil {
		errs.add("usersFile", fmt.Sprintf("%q", f.UsersFile), err)
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		e := entries[name]
		if e.Hashed() && e.Realm != realm {
			errs.add("usersFile", fmt.Sprintf("%q", f.UsersFile), fmt.Errorf("user %q: ha1 is for realm %q, this pool's realm is %q (set realm, or hash again)", name, e.Realm, realm))
			continue
		}
		users = append(users, User{Name: name, Password: e.Password, HA1: e.HA1})
	}
	return users
}

// peer is the paired pool; nil without a peer section.
func (fp *filePeer) peer(errs *fileErrors) *Peer {
	if fp == nil {
		return nil
	}
	return &Peer{Name: fp.Name, Addr: fp.Addr, Transport: fp.Transport, Orbits: parseRanges("peer.orbits", fp.Orbits, errs)}
}

// config is the park section: musicOnHold defaults to on, and a musicFile that is
// neither builtin nor absolute is taken relative to dir.
func (fp *filePark) config(dir string, errs *fileErrors) ParkConfig {
	pc := ParkConfig{
		Orbits:            parseRanges("park.orbits", fp.Orbits, errs),
		MusicFile:         fp.MusicFile,
		MaxPickupAttempts: fp.MaxPickupAttempts,
		OnTimeoutURI:      fp.OnTimeoutURI,
		Survivable:        fp.Survivable,
	}
	if fp.MusicOnHold != nil {
		pc.DisableMusicOnHold = !*fp.MusicOnHold
	}
	if pc.MusicFile != "" && !strings.HasPrefix(pc.MusicFile, "builtin:") && !filepath.IsAbs(pc.MusicFile) && dir != "" {
		pc.MusicFile = filepath.Join(dir, pc.MusicFile)
	}
	if fp.PickupTimeout != "" {
		d, err := time.ParseDuration(fp.PickupTimeout)
		if err != nil {
			errs.add("park.pickupTimeout", fmt.Sprintf("%q", fp.PickupTimeout), errors.New("must be a duration like 90s or 2m"))
		}
		pc.PickupTimeout = d
	}
	return pc
}

// parseRanges parses orbit ranges, "7000-7099" or a single orbit, each checked against
// the orbit rule; field names the list in errors.
func parseRanges(field string, in []string, errs *fileErrors) []Range {
	var out []Range
	for i, s := range in {
		start, end, ok := strings.Cut(strings.TrimSpace(s), "-")
		if !ok {
			end = start // a single orbit
		}
		r := Range{Start: strings.TrimSpace(start), End: strings.TrimSpace(end)}
		if err := r.Check(); err != nil {
			errs.add(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("%q", s), err)
		}
		out = append(out, r)
	}
	return out
}
