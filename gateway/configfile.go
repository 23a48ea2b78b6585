package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/signaling"
)

// FileConfig is everything `parkway gateway --config FILE` runs from: the gateway's
// own settings, the DR controller's pools and probes, and the admin API's token.
// Controller, Admin and Logger in Gateway are left for the caller to wire.
type FileConfig struct {
	// HTTP is the address to serve on.
	HTTP       string
	Gateway    Config
	DR         dr.Config
	AdminToken string
	// UA is the SIP user agent's config when the file has a sip section (nil without
	// one: no SIP). Its Pools are the DR pools, Active is home; the caller builds the
	// ua.Manager, passes it as DR.Redirector and as Gateway.Registrar (SIPUsers).
	UA *ua.Config
}

// fileConfig is the YAML form, parsed strictly (an unknown or misspelt key is an error,
// never a silent default). Example (configs/gateway.yaml):
//
//	http: 127.0.0.1:8080
//	hosts: [phone.example.com]       # names the gateway answers to (DNS-rebinding guard)
//	demo: false                      # true enables POST /api/session for the demo users
//	allowedOrigins: ["https://phone.example.com"]
//	embedOrigins: []                 # pages that may frame widget.html (issue 6)
//	embedKeyFile: embed.key          # ≥ 16 bytes; host backends' bearer key for POST /api/tickets
//	ticketTTL: 60s                   # how long a widget ticket waits to be exchanged
//	sessionKeyFile: session.key      # ≥ 32 bytes; absent: a random key per process
//	sessionTTL: 12h
//	authTimeout: 5s
//	maxSessions: 50000               # websockets; each costs ~32 KiB
//	heartbeat: {interval: 2s, timeout: 6s}
//	adminTokenFile: admin.token      # absent: the admin API is open (trusted networks only)
//	pools:
//	  home:   {name: pool-a, sip: 127.0.0.1:5070, orbits: ["7000-7099"]}
//	  backup: {name: pool-b, sip: 127.0.0.1:5080, orbits: ["8000-8099"]}
//	probe: {interval: 250ms, timeout: 250ms, misses: 3}
//	autoFailoverAfter: 0s            # 0: an admin completes failover (the Lync model)
//	autoFailbackAfter: 0s
//	sip:                             # absent: no SIP user agent (sessions carry DR state only)
//	  listen: 127.0.0.1:5090         # the gateway's SIP listener, UDP and TCP; an IP, it goes in Contact
//	  credentialsFile: users.yaml    # "user: password" per line, the pools' digest passwords
//	  signOutGrace: 10s              # a user stays registered this long after their last tab closes
//
// Relative file names are taken relative to the config file's directory. Secrets live in
// files of their own, not in this one, so it can be shared and committed.
type fileConfig struct {
	HTTP              string        `yaml:"http"`
	Hosts             []string      `yaml:"hosts"`
	Demo              bool          `yaml:"demo"`
	AllowedOrigins    []string      `yaml:"allowedOrigins"`
	EmbedOrigins      []string      `yaml:"embedOrigins"`
	EmbedKeyFile      string        `yaml:"embedKeyFile"`
	TicketTTL         string        `yaml:"ticketTTL"`
	SessionKeyFile    string        `yaml:"sessionKeyFile"`
	SessionTTL        string        `yaml:"sessionTTL"`
	AuthTimeout       string        `yaml:"authTimeout"`
	MaxSessions       int           `yaml:"maxSessions"`
	Heartbeat         fileHeartbeat `yaml:"heartbeat"`
	AdminTokenFile    string        `yaml:"adminTokenFile"`
	Pools             filePools     `yaml:"pools"`
	Probe             fileProbe     `yaml:"probe"`
	AutoFailoverAfter string        `yaml:"autoFailoverAfter"`
	AutoFailbackAfter string        `yaml:"autoFailbackAfter"`
	SIP               *fileSIP      `yaml:"sip"`
}

type fileSIP struct {
	Listen          string `yaml:"listen"`
	CredentialsFile string `yaml:"credentialsFile"`
	SignOutGrace    string `yaml:"signOutGrace"`
}

type fileHeartbeat struct {
	Interval string `yaml:"interval"`
	Timeout  string `yaml:"timeout"`
}

type filePools struct {
	Home   *filePool `yaml:"home"`
	Backup *filePool `yaml:"backup"`
}

type filePool struct {
	Name   string   `yaml:"name"`
	SIP    string   `yaml:"sip"`
	Orbits []string `yaml:"orbits"`
}

type fileProbe struct {
	Interval string `yaml:"interval"`
	Timeout  string `yaml:"timeout"`
	Misses   int    `yaml:"misses"`
}

const maxConfigFile = 1 << 20

// LoadConfig reads and parses a gateway config file.
func LoadConfig(path string) (FileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return FileConfig{}, err
	}
	fc, err := ParseConfig(data, filepath.Dir(path))
	if err != nil {
		return FileConfig{}, fmt.Errorf("%s: %w", path, err)
	}
	return fc, nil
}

// ParseConfig parses the YAML form; dir resolves relative file names. Every problem is
// reported, each naming its field and value.
func ParseConfig(data []byte, dir string) (FileConfig, error) {
	if len(data) > maxConfigFile {
		return FileConfig{}, fmt.Errorf("config: %d bytes exceeds %d", len(data), maxConfigFile)
	}
	var f fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return FileConfig{}, errors.New("config: empty")
		}
		return FileConfig{}, fmt.Errorf("config: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return FileConfig{}, errors.New("config: more than one YAML document")
	}

	var errs []error
	bad := func(field string, value any, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s = %v: %s", field, value, fmt.Sprintf(format, args...)))
	}
	duration := func(field, s string) time.Duration {
		if s == "" {
			return 0
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			bad(field, fmt.Sprintf("%q", s), "must be a duration like 250ms, 6s or 12h")
		}
		return d
	}
	readSecret := func(field, name string) []byte {
		if name == "" {
			return nil
		}
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		b, err := os.ReadFile(name)
		if err != nil {
			bad(field, fmt.Sprintf("%q", name), "%v", err)
			return nil
		}
		return bytes.TrimSpace(b)
	}

	fc := FileConfig{HTTP: f.HTTP}
	if f.HTTP == "" {
		fc.HTTP = "127.0.0.1:8080"
	} else if _, _, err := net.SplitHostPort(f.HTTP); err != nil {
		bad("http", fmt.Sprintf("%q", f.HTTP), "must be host:port")
	}
	g := Config{
		Demo:           f.Demo,
		Hosts:          f.Hosts,
		AllowedOrigins: f.AllowedOrigins,
		EmbedOrigins:   f.EmbedOrigins,
		SessionTTL:     duration("sessionTTL", f.SessionTTL),
		TicketTTL:      duration("ticketTTL", f.TicketTTL),
		AuthTimeout:    duration("authTimeout", f.AuthTimeout),
		PingInterval:   duration("heartbeat.interval", f.Heartbeat.Interval),
		PeerTimeout:    duration("heartbeat.timeout", f.Heartbeat.Timeout),
		MaxSessions:    f.MaxSessions,
	}
	if f.MaxSessions < 0 {
		bad("maxSessions", f.MaxSessions, "must not be negative (0: the default, %d)", DefaultMaxSessions)
	}
	for i, o := range f.AllowedOrigins {
		if _, err := parseOrigin(o); err != nil {
			bad(fmt.Sprintf("allowedOrigins[%d]", i), fmt.Sprintf("%q", o), "%v", err)
		}
	}
	for i, o := range f.EmbedOrigins {
		if _, err := parseOrigin(o); err != nil {
			bad(fmt.Sprintf("embedOrigins[%d]", i), fmt.Sprintf("%q", o), "%v", err)
		}
	}
	if key := readSecret("sessionKeyFile", f.SessionKeyFile); key != nil {
		if len(key) < 32 {
			bad("sessionKeyFile", fmt.Sprintf("%q", f.SessionKeyFile), "holds %d bytes; at least 32 are needed", len(key))
		}
		g.SessionKey = key
	}
	if key := readSecret("embedKeyFile", f.EmbedKeyFile); key != nil {
		if len(key) < MinEmbedKeySize {
			bad("embedKeyFile", fmt.Sprintf("%q", f.EmbedKeyFile), "holds %d bytes; use at least %d random ones", len(key), MinEmbedKeySize)
		}
		g.EmbedKey = key
	}
	if tok := readSecret("adminTokenFile", f.AdminTokenFile); tok != nil {
		if len(tok) < 16 {
			bad("adminTokenFile", fmt.Sprintf("%q", f.AdminTokenFile), "holds %d bytes; use at least 16 random ones", len(tok))
		}
		fc.AdminToken = string(tok)
	}
	pool := func(field string, p *filePool) dr.Pool {
		if p == nil {
			bad(field, "(missing)", "is required: {name, sip, orbits}")
			return dr.Pool{}
		}
		if p.Name == "" {
			bad(field+".name", `""`, "is required")
		}
		if host, port, err := net.SplitHostPort(p.SIP); err != nil || host == "" || port == "" || port == "0" {
			bad(field+".sip", fmt.Sprintf("%q", p.SIP), "must be host:port of the pool's SIP listener")
		}
		for i, r := range p.Orbits {
			if err := checkOrbitRange(r); err != nil {
				bad(fmt.Sprintf("%s.orbits[%d]", field, i), fmt.Sprintf("%q", r), "%v", err)
			}
		}
		return dr.Pool{Name: p.Name, SIPAddr: p.SIP, Orbits: strings.Join(p.Orbits, ",")}
	}
	fc.DR = dr.Config{
		Home:              pool("pools.home", f.Pools.Home),
		Backup:            pool("pools.backup", f.Pools.Backup),
		ProbeInterval:     duration("probe.interval", f.Probe.Interval),
		ProbeTimeout:      duration("probe.timeout", f.Probe.Timeout),
		ProbeMisses:       f.Probe.Misses,
		AutoFailoverAfter: duration("autoFailoverAfter", f.AutoFailoverAfter),
		AutoFailbackAfter: duration("autoFailbackAfter", f.AutoFailbackAfter),
	}
	if f.Probe.Misses < 0 {
		bad("probe.misses", f.Probe.Misses, "must not be negative")
	}
	if f.Pools.Home != nil && f.Pools.Backup != nil && f.Pools.Home.Name == f.Pools.Backup.Name && f.Pools.Home.Name != "" {
		bad("pools.backup.name", fmt.Sprintf("%q", f.Pools.Backup.Name), "must differ from pools.home.name")
	}
	if wg := g.withDefaults(); wg.PeerTimeout <= wg.PingInterval {
		bad("heartbeat.timeout", wg.PeerTimeout, "must be longer than heartbeat.interval (%v)", wg.PingInterval)
	}
	if f.SIP != nil {
		fc.UA = parseSIP(f.SIP, fc.DR, dir, bad)
		g.SignOutGrace = duration("sip.signOutGrace", f.SIP.SignOutGrace)
	}
	fc.Gateway = g
	if len(errs) > 0 {
		return FileConfig{}, fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return fc, nil
}

// parseSIP builds the user agent's config from the sip section and the DR pools,
// reporting each problem through bad.
func parseSIP(f *fileSIP, d dr.Config, dir string, bad func(field string, value any, format string, args ...any)) *ua.Config {
	c := &ua.Config{Listen: f.Listen, Active: d.Home.Name}
	if f.Listen == "" {
		c.Listen = "127.0.0.1:5090"
	} else if ap, err := netip.ParseAddrPort(f.Listen); err != nil || !ap.IsValid() {
		bad("sip.listen", fmt.Sprintf("%q", f.Listen), "must be ip:port (the IP goes into every user's Contact)")
	}
	for _, p := range []struct {
		field string
		pool  dr.Pool
	}{{"pools.home.sip", d.Home}, {"pools.backup.sip", d.Backup}} {
		if _, err := netip.ParseAddrPort(p.pool.SIPAddr); err != nil && p.pool.SIPAddr != "" {
			bad(p.field, fmt.Sprintf("%q", p.pool.SIPAddr), "must be ip:port when the gateway registers users (sip)")
		}
		c.Pools = append(c.Pools, ua.Pool{Name: p.pool.Name, Addr: p.pool.SIPAddr})
	}
	if f.CredentialsFile == "" {
		bad("sip.credentialsFile", `""`, "is required: the users' digest passwords")
		return c
	}
	name := f.CredentialsFile
	if !filepath.IsAbs(name) {
		name = filepath.Join(dir, name)
	}
	creds, err := loadCredentials(name)
	if err != nil {
		bad("sip.credentialsFile", fmt.Sprintf("%q", f.CredentialsFile), "%v", err)
	}
	c.Credentials = creds
	return c
}

// loadCredentials reads a YAML map of user → digest password, strictly: every name and
// password non-empty, at least one user.
func loadCredentials(path string) (ua.StaticCredentials, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) > maxConfigFile {
		return nil, fmt.Errorf("%d bytes exceeds %d", len(data), maxConfigFile)
	}
	var m map[string]string
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("is empty: want \"user: password\" lines")
		}
		return nil, err
	}
	if len(m) == 0 {
		return nil, errors.New("names no users")
	}
	for user, pw := range m {
		if user == "" || strings.TrimSpace(pw) == "" {
			return nil, fmt.Errorf("user %q: name and password must not be empty", user)
		}
	}
	return ua.StaticCredentials(m), nil
}

// checkOrbitRange accepts "7000-7099" or a single orbit: Lync's orbit rule
// (signaling.OrbitPattern) at both ends, same length, start not after end.
func checkOrbitRange(s string) error {
	start, end, ok := strings.Cut(s, "-")
	if !ok {
		end = start
	}
	if !signaling.OrbitPattern.MatchString(start) || !signaling.OrbitPattern.MatchString(end) {
		return errors.New("must be orbit numbers like 7000-7099")
	}
	if len(start) != len(end) || start > end {
		return errors.New("start and end must have the same length, start first")
	}
	return nil
}
