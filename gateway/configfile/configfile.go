package configfile

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parkway/parkway/cluster"
	"github.com/parkway/parkway/gateway"
	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/internal/strictyaml"
	"github.com/parkway/parkway/internal/usersfile"
	"github.com/parkway/parkway/media"
	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/signaling"
)

// File is everything `parkway gateway --config FILE` runs from: the gateway's
// own settings, the DR controller's pools and probes, and the admin API's token.
// Controller, Admin and Logger in Gateway are left for the caller to wire.
type File struct {
	// HTTP is the address to serve on.
	HTTP       string
	Gateway    gateway.Config
	DR         dr.Config
	AdminToken string
	// UA is the SIP user agent's config when the file has a sip section (nil without
	// one: no SIP). Its Pools are the DR pools, Active is home; the caller builds the
	// ua.Manager, passes it as DR.Redirector and as Gateway.Registrar (SIPUsers).
	UA *ua.Config
	// Cluster is the cluster section (nil without one: the gateway runs alone, on an
	// embedded one-node cluster in memory that cmd/parkway gives it).
	Cluster *cluster.Config
	// AuditLog is the file admin actions are appended to (admin.OpenAuditFile), resolved
	// against the config file's directory; "" means the process log only.
	AuditLog string

	// secretFiles are the files of secrets the config names, for Check to look at
	// their permissions: config key → resolved path.
	secretFiles map[string]string
}

// fileConfig is the YAML form, parsed strictly (an unknown or misspelt key is an error,
// never a silent default). Example (configs/gateway.yaml):
//
//	http: 127.0.0.1:8080
//	hosts: [phone.example.com]       # names the gateway answers to (DNS-rebinding guard); required unless demo
//	demo: false                      # true enables POST /api/session for the demo users
//	allowedOrigins: ["https://phone.example.com"]
//	gateways: []                     # the cluster's gateways' base URLs, in the order clients try them (issue #11)
//	embedOrigins: []                 # pages that may frame widget.html (issue 6)
//	embedKeyFile: embed.key          # ≥ 16 bytes; host backends' bearer key for POST /api/tickets
//	ticketTTL: 60s                   # how long a widget ticket waits to be exchanged
//	sessionKeyFile: session.key      # ≥ 32 bytes; absent: a random key per process
//	sessionTTL: 12h
//	authTimeout: 5s
//	drainTimeout: 30s                # SIGTERM: how long calls may go on before the gateway exits anyway
//	maxSessions: 50000               # websockets; each costs ~32 KiB
//	maxCallsPerUser: 4               # calls one user has going; the next is refused too-many-calls
//	maxSessionsPerIP: 20             # websockets one client address may hold; the next gets 429
//	trustedProxies: [10.0.0.5/32]    # only behind these is X-Forwarded-For believed (for maxSessionsPerIP)
//	messageLimit: {perSecond: 50, burst: 100}  # frames per session; excess rate-limited, floods closed
//	heartbeat: {interval: 2s, timeout: 6s}
//	adminTokenFile: admin.token      # ≥ 16 bytes; absent: the admin API is open, allowed only on loopback
//	auditLog: /var/log/parkway/admin-audit.log  # admin actions as JSON lines, besides the process log; absent: process log only
//	pools:
//	  home:   {name: pool-a, sip: 127.0.0.1:5070, orbits: ["7000-7099"]}
//	  backup: {name: pool-b, sip: 127.0.0.1:5080, orbits: ["8000-8099"]}
//	  # add survivablePark: true to a pool to re-park its parked calls on the other pool
//	  # when it dies (opt-in; the other pool needs park.survivable: true)
//	  # transport: tls → sip is the pool's tls.listen; probes, REGISTERs, INVITEs and
//	  # SUBSCRIBEs go to it over TLS (configs/gateway.yaml); absent or udp: plain UDP
//	poolCAFile: secrets/sip/ca.crt   # CA (PEM) the TLS pools' certificates must verify against;
//	                                 # absent: the system's roots
//	probe: {interval: 250ms, timeout: 250ms, misses: 3}
//	  # connection: false turns off the TCP/TLS connection held to each pool, whose
//	  # reset marks a pool whose process died down within milliseconds (default true)
//	autoFailoverAfter: 0s            # 0: an admin completes failover (the Lync model)
//	autoFailbackAfter: 0s
//	sip:                             # absent: no SIP user agent (sessions carry DR state only)
//	  listen: 127.0.0.1:5090         # the gateway's SIP listener, UDP and TCP; an IP, it goes in Contact
//	  credentialsFile: users.yaml    # per user "name: password" or "name: {realm: R, ha1: H}" (internal/usersfile)
//	  signOutGrace: 10s              # a user stays registered this long after their last tab closes
//	  reattachGrace: 30s             # a call whose tab went away waits this long for a tab to take it back
//	  reattachHold: silence          # what its far end hears meanwhile: silence or music
//	cluster:                         # absent: this gateway alone on an embedded one-node NATS in memory (issue #11; README "Several gateways")
//	  name: gw1                      # unique per gateway; absent: the host name
//	  # no other key: an embedded single-node NATS in memory, no listener
//	  nats: [nats://10.0.0.9:4222]   # or: join an external NATS cluster
//	  listen: 127.0.0.1:6222         # or: embed a node clustered with the other gateways'
//	  routes: [127.0.0.1:6222, 127.0.0.1:6223, 127.0.0.1:6224]
//	  dataDir: /var/lib/parkway/nats # JetStream's files; absent: in memory
//
// Relative file names are taken relative to the config file's directory. Secrets live in
// files of their own, not in this one, so it can be shared and committed.
type fileConfig struct {
	HTTP              string        `yaml:"http"`
	Hosts             []string      `yaml:"hosts"`
	Demo              bool          `yaml:"demo"`
	AllowedOrigins    []string      `yaml:"allowedOrigins"`
	Gateways          []string      `yaml:"gateways"`
	EmbedOrigins      []string      `yaml:"embedOrigins"`
	EmbedKeyFile      string        `yaml:"embedKeyFile"`
	TicketTTL         string        `yaml:"ticketTTL"`
	SessionKeyFile    string        `yaml:"sessionKeyFile"`
	SessionTTL        string        `yaml:"sessionTTL"`
	AuthTimeout       string        `yaml:"authTimeout"`
	DrainTimeout      string        `yaml:"drainTimeout"`
	MaxSessions       int           `yaml:"maxSessions"`
	MaxCallsPerUser   int           `yaml:"maxCallsPerUser"`
	MaxSessionsPerIP  int           `yaml:"maxSessionsPerIP"`
	TrustedProxies    []string      `yaml:"trustedProxies"`
	MessageLimit      fileRate      `yaml:"messageLimit"`
	Heartbeat         fileHeartbeat `yaml:"heartbeat"`
	AdminTokenFile    string        `yaml:"adminTokenFile"`
	AuditLog          string        `yaml:"auditLog"`
	Pools             filePools     `yaml:"pools"`
	PoolCAFile        string        `yaml:"poolCAFile"`
	Probe             fileProbe     `yaml:"probe"`
	AutoFailoverAfter string        `yaml:"autoFailoverAfter"`
	AutoFailbackAfter string        `yaml:"autoFailbackAfter"`
	SIP               *fileSIP      `yaml:"sip"`
	Cluster           *fileCluster  `yaml:"cluster"`
}

// fileCluster is the cluster section (issue #11, cluster.Config): absent, the gateway
// runs alone with its own DR controller, as before; present, it shares the DR phase,
// session key and spent tickets with the other gateways on NATS JetStream.
type fileCluster struct {
	Name    string   `yaml:"name"`
	NATS    []string `yaml:"nats"`
	Listen  string   `yaml:"listen"`
	Routes  []string `yaml:"routes"`
	DataDir string   `yaml:"dataDir"`
}

type fileSIP struct {
	Listen          string `yaml:"listen"`
	CredentialsFile string `yaml:"credentialsFile"`
	SignOutGrace    string `yaml:"signOutGrace"`
	ReattachGrace   string `yaml:"reattachGrace"`
	ReattachHold    string `yaml:"reattachHold"`
}

type fileRate struct {
	PerSecond float64 `yaml:"perSecond"`
	Burst     int     `yaml:"burst"`
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
	Name      string   `yaml:"name"`
	SIP       string   `yaml:"sip"`
	Transport string   `yaml:"transport"`
	Orbits    []string `yaml:"orbits"`
	// SurvivablePark: re-park this pool's parked calls on the other pool when it dies.
	SurvivablePark bool `yaml:"survivablePark"`
}

type fileProbe struct {
	Interval string `yaml:"interval"`
	Timeout  string `yaml:"timeout"`
	Misses   int    `yaml:"misses"`
	// Connection: hold a TCP/TLS connection to each pool, whose reset tells a dead
	// pool process within milliseconds (gateway/dr/connwatch.go); absent: true.
	Connection *bool `yaml:"connection"`
}

const maxConfigFile = 1 << 20

// Load reads and parses a gateway config file.
func Load(path string) (File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return File{}, err
	}
	fc, err := Parse(data, filepath.Dir(path))
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	return fc, nil
}

// Parse parses the YAML form; dir resolves relative file names. Every problem is
// reported, each naming its field and value.
func Parse(data []byte, dir string) (File, error) {
	var f fileConfig
	if err := strictyaml.Decode(data, maxConfigFile, &f); err != nil {
		return File{}, fmt.Errorf("config: %w", err)
	}
	p := &problems{dir: dir, secretFiles: map[string]string{}}
	fc := File{
		HTTP:       f.httpAddr(p),
		Gateway:    f.gateway(p),
		AdminToken: f.adminToken(p),
		DR:         f.dr(p),
	}
	if f.AuditLog != "" {
		fc.AuditLog = p.path(f.AuditLog)
	}
	if f.SIP != nil {
		fc.UA = f.SIP.ua(fc.DR, p)
		fc.Gateway.SignOutGrace = p.duration("sip.signOutGrace", f.SIP.SignOutGrace)
		fc.Gateway.ReattachGrace = p.duration("sip.reattachGrace", f.SIP.ReattachGrace)
		if h := f.SIP.ReattachHold; h != "" {
			var err error
			if fc.Gateway.ReattachHold, err = media.ParseHold(h); err != nil {
				p.bad("sip.reattachHold", fmt.Sprintf("%q", h), "must be silence or music")
			}
		}
	}
	if c := f.Cluster; c != nil {
		fc.Cluster = &cluster.Config{Name: c.Name, NATS: c.NATS, Listen: c.Listen, Routes: c.Routes}
		if c.DataDir != "" {
			fc.Cluster.DataDir = p.path(c.DataDir)
		}
		if err := fc.Cluster.Validate(); err != nil {
			p.bad("cluster", "", "%v", err)
		}
	}
	if err := p.err(); err != nil {
		return File{}, err
	}
	fc.secretFiles = p.secretFiles
	return fc, nil
}

// problems collects what is wrong with a config file, each problem naming its field and
// value, so that one run reports them all.
type problems struct {
	dir         string            // the config file's directory: relative file names start there
	secretFiles map[string]string // config key → path of every secret file read
	errs        []error
}

func (p *problems) bad(field string, value any, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s = %v: %s", field, value, fmt.Sprintf(format, args...)))
}

// err is every problem, or nil.
func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return fmt.Errorf("config: %w", errors.Join(p.errs...))
}

// duration parses field's value s; empty is 0 (the default).
func (p *problems) duration(field, s string) time.Duration {
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		p.bad(field, fmt.Sprintf("%q", s), "must be a duration like 250ms, 6s or 12h")
	}
	return d
}

// path resolves a file name from the config against its directory.
func (p *problems) path(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(p.dir, name)
}

// secret reads the file field names, trimmed of surrounding space, and checks it holds
// at least minLen bytes (want says how many to use). An empty name, or a file of nothing
// but space, is no secret: nil, as if the field were absent.
func (p *problems) secret(field, name string, minLen int, want string) []byte {
	if name == "" {
		return nil
	}
	p.secretFiles[field] = p.path(name)
	b, err := os.ReadFile(p.path(name))
	if err != nil {
		p.bad(field, fmt.Sprintf("%q", p.path(name)), "%v", err)
		return nil
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	if len(b) < minLen {
		p.bad(field, fmt.Sprintf("%q", name), "holds %d bytes; %s", len(b), want)
	}
	return b
}

// httpAddr is the address to serve on: host:port, 127.0.0.1:8080 when unset.
func (f *fileConfig) httpAddr(p *problems) string {
	if f.HTTP == "" {
		return "127.0.0.1:8080"
	}
	if _, _, err := net.SplitHostPort(f.HTTP); err != nil {
		p.bad("http", fmt.Sprintf("%q", f.HTTP), "must be host:port")
	}
	return f.HTTP
}

// gateway is the gateway's own settings: sign-in, origins, keys, session limits and the
// heartbeat.
func (f *fileConfig) gateway(p *problems) gateway.Config {
	g := gateway.Config{
		Demo:             f.Demo,
		Hosts:            f.Hosts,
		AllowedOrigins:   f.AllowedOrigins,
		Gateways:         f.Gateways,
		EmbedOrigins:     f.EmbedOrigins,
		SessionTTL:       p.duration("sessionTTL", f.SessionTTL),
		TicketTTL:        p.duration("ticketTTL", f.TicketTTL),
		AuthTimeout:      p.duration("authTimeout", f.AuthTimeout),
		DrainTimeout:     p.duration("drainTimeout", f.DrainTimeout),
		PingInterval:     p.duration("heartbeat.interval", f.Heartbeat.Interval),
		PeerTimeout:      p.duration("heartbeat.timeout", f.Heartbeat.Timeout),
		MaxSessions:      f.MaxSessions,
		MaxCallsPerUser:  f.MaxCallsPerUser,
		MaxSessionsPerIP: f.MaxSessionsPerIP,
		TrustedProxies:   trustedProxies(p, f.TrustedProxies),
		MessageRate:      f.MessageLimit.PerSecond,
		MessageBurst:     f.MessageLimit.Burst,
		SessionKey:       p.secret("sessionKeyFile", f.SessionKeyFile, 32, "at least 32 are needed"),
		EmbedKey:         p.secret("embedKeyFile", f.EmbedKeyFile, gateway.MinEmbedKeySize, fmt.Sprintf("use at least %d random ones", gateway.MinEmbedKeySize)),
	}
	if f.MaxSessions < 0 {
		p.bad("maxSessions", f.MaxSessions, "must not be negative (0: the default, %d)", gateway.DefaultMaxSessions)
	}
	if f.MaxSessionsPerIP < 0 {
		p.bad("maxSessionsPerIP", f.MaxSessionsPerIP, "must not be negative (0: the default, %d)", gateway.DefaultMaxSessionsPerIP)
	}
	if f.MaxCallsPerUser < 0 {
		p.bad("maxCallsPerUser", f.MaxCallsPerUser, "must not be negative (0: the default, %d)", gateway.DefaultMaxCallsPerUser)
	}
	if f.MessageLimit.PerSecond < 0 || f.MessageLimit.Burst < 0 {
		p.bad("messageLimit", fmt.Sprintf("%+v", f.MessageLimit), "must not be negative (0: the defaults, %d a second in bursts of %d)", gateway.DefaultMessageRate, gateway.DefaultMessageBurst)
	}
	checkOrigins(p, "allowedOrigins", f.AllowedOrigins)
	checkOrigins(p, "embedOrigins", f.EmbedOrigins)
	for i, g := range f.Gateways {
		if _, err := signaling.GatewayWebsocket(g); err != nil {
			p.bad(fmt.Sprintf("gateways[%d]", i), g, "%v", err)
		}
	}
	if wg := g.WithDefaults(); wg.PeerTimeout <= wg.PingInterval {
		p.bad("heartbeat.timeout", wg.PeerTimeout, "must be longer than heartbeat.interval (%v)", wg.PingInterval)
	}
	return g
}

func checkOrigins(p *problems, field string, origins []string) {
	for i, o := range origins {
		if _, err := gateway.ParseOrigin(o); err != nil {
			p.bad(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("%q", o), "%v", err)
		}
	}
}

// adminToken is the admin API's bearer token; "" leaves the API open. A token file that
// is named but holds nothing is an error, not an open API: an empty file is a mistake
// (a failed secret rollout), and must not silently disarm the admin API's check.
func (f *fileConfig) adminToken(p *problems) string {
	n := len(p.errs)
	token := p.secret("adminTokenFile", f.AdminTokenFile, 16, "use at least 16 random ones")
	if f.AdminTokenFile != "" && token == nil && len(p.errs) == n {
		p.bad("adminTokenFile", fmt.Sprintf("%q", f.AdminTokenFile), "is empty: write a token of at least 16 random bytes in it, or remove the key (then the admin API is open, which only a loopback gateway may be)")
	}
	return string(token)
}

// dr is the DR controller's pools, probes and automatic transitions.
func (f *fileConfig) dr(p *problems) dr.Config {
	c := dr.Config{
		Home:          f.Pools.Home.dr(p, "pools.home"),
		Backup:        f.Pools.Backup.dr(p, "pools.backup"),
		ProbeInterval: p.duration("probe.interval", f.Probe.Interval),
		ProbeTimeout:  p.duration("probe.timeout", f.Probe.Timeout),
		ProbeMisses:   f.Probe.Misses,
		// The watch is on unless the file turns it off.
		DisableConnectionWatch: f.Probe.Connection != nil && !*f.Probe.Connection,
		AutoFailoverAfter:      p.duration("autoFailoverAfter", f.AutoFailoverAfter),
		AutoFailbackAfter:      p.duration("autoFailbackAfter", f.AutoFailbackAfter),
	}
	if c.Home.Transport == "TLS" || c.Backup.Transport == "TLS" || f.PoolCAFile != "" {
		c.TLS = f.poolTLS(p)
	}
	if f.Probe.Misses < 0 {
		p.bad("probe.misses", f.Probe.Misses, "must not be negative")
	}
	if f.Pools.Home != nil && f.Pools.Backup != nil && f.Pools.Home.Name == f.Pools.Backup.Name && f.Pools.Home.Name != "" {
		p.bad("pools.backup.name", fmt.Sprintf("%q", f.Pools.Backup.Name), "must differ from pools.home.name")
	}
	return c
}

// poolTLS is the client TLS configuration for pools over TLS: poolCAFile's CAs, or the
// system's roots without one.
func (f *fileConfig) poolTLS(p *problems) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.PoolCAFile == "" {
		return c
	}
	data, err := os.ReadFile(p.path(f.PoolCAFile))
	if err != nil {
		p.bad("poolCAFile", fmt.Sprintf("%q", f.PoolCAFile), "%v", err)
		return c
	}
	c.RootCAs = x509.NewCertPool()
	if !c.RootCAs.AppendCertsFromPEM(data) {
		p.bad("poolCAFile", fmt.Sprintf("%q", f.PoolCAFile), "holds no PEM certificate")
	}
	return c
}

// dr is one pool as the DR controller probes it; field is where it sits in the file.
func (fp *filePool) dr(p *problems, field string) dr.Pool {
	if fp == nil {
		p.bad(field, "(missing)", "is required: {name, sip, orbits}")
		return dr.Pool{}
	}
	if fp.Name == "" {
		p.bad(field+".name", `""`, "is required")
	}
	if host, port, err := net.SplitHostPort(fp.SIP); err != nil || host == "" || port == "" || port == "0" {
		p.bad(field+".sip", fmt.Sprintf("%q", fp.SIP), "must be host:port of the pool's SIP listener")
	}
	for i, r := range fp.Orbits {
		if err := checkOrbitRange(r); err != nil {
			p.bad(fmt.Sprintf("%s.orbits[%d]", field, i), fmt.Sprintf("%q", r), "%v", err)
		}
	}
	transport := ""
	switch strings.ToLower(fp.Transport) {
	case "", "udp":
	case "tls":
		transport = "TLS"
	default:
		p.bad(field+".transport", fmt.Sprintf("%q", fp.Transport), "must be udp or tls")
	}
	return dr.Pool{Name: fp.Name, SIPAddr: fp.SIP, Orbits: strings.Join(fp.Orbits, ","), Transport: transport, SurvivablePark: fp.SurvivablePark}
}

// ua builds the user agent's config from the sip section and the DR pools: it registers
// users at home first, with the passwords of the credentials file.
func (f *fileSIP) ua(d dr.Config, p *problems) *ua.Config {
	c := &ua.Config{Listen: f.Listen, Active: d.Home.Name, TLS: d.TLS}
	if f.Listen == "" {
		c.Listen = "127.0.0.1:5090"
	} else if ap, err := netip.ParseAddrPort(f.Listen); err != nil || !ap.IsValid() {
		p.bad("sip.listen", fmt.Sprintf("%q", f.Listen), "must be ip:port (the IP goes into every user's Contact)")
	}
	for _, pool := range []struct {
		field string
		pool  dr.Pool
	}{{"pools.home.sip", d.Home}, {"pools.backup.sip", d.Backup}} {
		if _, err := netip.ParseAddrPort(pool.pool.SIPAddr); err != nil && pool.pool.SIPAddr != "" {
			p.bad(pool.field, fmt.Sprintf("%q", pool.pool.SIPAddr), "must be ip:port when the gateway registers users (sip)")
		}
		c.Pools = append(c.Pools, ua.Pool{Name: pool.pool.Name, Addr: pool.pool.SIPAddr, Transport: pool.pool.Transport})
	}
	if f.CredentialsFile == "" {
		p.bad("sip.credentialsFile", `""`, "is required: the users' digest passwords")
		return c
	}
	p.secretFiles["sip.credentialsFile"] = p.path(f.CredentialsFile)
	creds, err := loadCredentials(p.path(f.CredentialsFile))
	if err != nil {
		p.bad("sip.credentialsFile", fmt.Sprintf("%q", f.CredentialsFile), "%v", err)
	}
	c.Credentials = creds
	return c
}

// loadCredentials reads the users file (internal/usersfile): per user a plain password
// or an HA1 hash with its realm, strictly — every name and secret non-empty, at least
// one user.
func loadCredentials(path string) (ua.Secrets, error) {
	entries, err := usersfile.Load(path)
	if err != nil {
		return nil, err
	}
	out := make(ua.Secrets, len(entries))
	for name, e := range entries {
		out[name] = ua.Secret{Password: e.Password, HA1: e.HA1, Realm: e.Realm}
	}
	return out, nil
}

// checkOrbitRange accepts "7000-7099" or a single orbit, by the park contract's range
// rule (parkwire.Range.Check), the same one the pools apply.
func checkOrbitRange(s string) error {
	start, end, ok := strings.Cut(s, "-")
	if !ok {
		end = start
	}
	return parkwire.Range{Start: start, End: end}.Check()
}

// trustedProxies reads trustedProxies: addresses or CIDR prefixes.
func trustedProxies(p *problems, list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, v := range list {
		if pre, err := netip.ParsePrefix(v); err == nil {
			out = append(out, pre.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			p.bad("trustedProxies", v, "is neither an IP address nor a CIDR prefix")
			continue
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out
}
