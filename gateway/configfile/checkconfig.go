package configfile

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/parkway/parkway/gateway"
	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/gateway/ua"
)

// Finding is one unsafe setting of a gateway config: which key, why it is unsafe, and
// whether the gateway refuses to start with it (Fatal) or starts with a warning.
type Finding struct {
	Setting string
	Fatal   bool
	Why     string
}

func (f Finding) String() string {
	level := "warning"
	if f.Fatal {
		level = "FATAL"
	}
	return fmt.Sprintf("%-7s %s: %s", level, f.Setting, f.Why)
}

// CheckOptions are the command-line choices Check takes into account.
type CheckOptions struct {
	// DemoOnNetwork lets demo mode serve on an address other than loopback
	// (`--demo-on-network`): it signs anyone who reaches it in as any demo user.
	DemoOnNetwork bool
}

// LoopbackOnly reports whether an HTTP listen address (host:port) is reachable only from
// this machine: a loopback IP or "localhost". ":8080" and "0.0.0.0:8080" listen on
// every interface; any other name may resolve anywhere.
func LoopbackOnly(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// Check lists every unsafe setting of fc, each with what it exposes (issue 13). The
// fatal ones are those `parkway gateway` refuses to start with: demo mode off loopback
// (without opts.DemoOnNetwork), an admin API with no token on a network address outside
// demo mode, and no hosts outside demo mode.
func (fc File) Check(opts CheckOptions) []Finding {
	var out []Finding
	add := func(setting string, fatal bool, format string, args ...any) {
		out = append(out, Finding{Setting: setting, Fatal: fatal, Why: fmt.Sprintf(format, args...)})
	}
	g := fc.Gateway
	loopback := LoopbackOnly(fc.HTTP)
	if g.Demo {
		why := "signs anyone in as any demo user by name, with no password, and leaves the admin API open (unless adminTokenFile is set)"
		switch {
		case loopback:
			add("demo", false, "%s; it serves on loopback (%s) only, for trying Parkway on this machine", why, fc.HTTP)
		case opts.DemoOnNetwork:
			add("demo", false, "%s, to every machine that reaches %s (--demo-on-network)", why, fc.HTTP)
		default:
			add("demo", true, "%s; it may serve only on loopback (http: 127.0.0.1:PORT), not %s, unless started with --demo-on-network", why, fc.HTTP)
		}
	}
	if !g.Demo && fc.AdminToken == "" {
		why := "no adminTokenFile: the admin API (POST /api/dr/failover, /failback) is open to anyone who reaches the gateway, and moves every user between pools"
		if loopback {
			add("adminTokenFile", false, "%s; it listens on loopback (%s), so that is every local process and user", why, fc.HTTP)
		} else {
			add("adminTokenFile", true, "%s; on %s that is the network. Write at least 16 random bytes to a file and name it here", why, fc.HTTP)
		}
	}
	if !g.Demo && len(g.Hosts) == 0 {
		add("hosts", true, "is required outside demo mode: without the names the gateway answers to, it answers to any, and a DNS-rebinding page (its own name re-pointed at the gateway) becomes same-origin with it and can drive the API")
	}
	if !loopback {
		add("http", false, "%s serves plain HTTP on a network address: session tokens, tickets and the admin token cross the network readable; put a TLS-terminating proxy in front and list its https:// origin in allowedOrigins", fc.HTTP)
	}
	if !g.Demo && len(g.EmbedKey) == 0 {
		add("embedKeyFile", false, "none: outside demo mode widget tickets are the only way to sign in, so nobody can start a session")
	}
	if len(g.EmbedOrigins) > 0 && len(g.EmbedKey) == 0 {
		add("embedOrigins", false, "pages may frame the widget but no embedKeyFile is set, so their backends cannot get tickets for it")
	}
	for _, list := range []struct {
		key     string
		origins []string
	}{{"allowedOrigins", g.AllowedOrigins}, {"embedOrigins", g.EmbedOrigins}} {
		for i, o := range list.origins {
			setting := fmt.Sprintf("%s[%d]", list.key, i)
			if strings.ContainsAny(o, "*?[") {
				add(setting, false, "%q: origins are matched literally, never as patterns; list each origin in full", o)
			}
			if n, err := gateway.ParseOrigin(o); err == nil && strings.HasPrefix(n, "http://") && !loopbackOrigin(n) {
				add(setting, false, "%q is plain http: anyone on that page's network path can change the page, and it is trusted with users' sessions; use https", o)
			}
		}
	}
	if len(g.SessionKey) == 0 && fc.Cluster == nil {
		add("sessionKeyFile", false, "none: a random key per process, so a restart signs everyone out and two gateways cannot share sessions")
	}
	if c := fc.Cluster; c != nil && c.Listen != "" && !LoopbackOnly(c.Listen) {
		add("cluster.listen", false, "%s is not loopback: the NATS routes are not authenticated, so anyone who reaches it joins the cluster and can change the DR phase; keep it on a private network", c.Listen)
	}
	for _, pool := range []struct {
		key  string
		pool dr.Pool
	}{{"pools.home", fc.DR.Home}, {"pools.backup", fc.DR.Backup}} {
		if pool.pool.Transport != "TLS" && !LoopbackOnly(pool.pool.SIPAddr) {
			add(pool.key+".transport", false, "%s is reached over plain UDP at %s: REGISTERs with their digest answers, INVITEs with their SDP and the parked-calls feed cross the network readable, and answers to them can be forged; give the pool a tls section and set transport: tls (and poolCAFile)",
				pool.pool.Name, pool.pool.SIPAddr)
		}
	}
	if secrets, ok := fc.credentials(); ok && !g.Demo {
		var plain []string
		for name, sec := range secrets {
			if sec.HA1 == "" {
				plain = append(plain, name)
			}
		}
		slices.Sort(plain)
		if len(plain) > 0 {
			add("sip.credentialsFile", false, "%d user(s) with a plain password (%s): whoever reads the file has every password, to use anywhere; store HA1 hashes instead (`parkway passwd USER REALM`, internal/usersfile)",
				len(plain), clipList(plain, 5))
		}
	}
	keys := make([]string, 0, len(fc.secretFiles))
	for k := range fc.secretFiles {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		if st, err := os.Stat(fc.secretFiles[key]); err == nil && st.Mode().Perm()&0o077 != 0 {
			add(key, false, "%s is readable by other users (mode %v): chmod 600 it", fc.secretFiles[key], st.Mode().Perm())
		}
	}
	return out
}

// credentials are the users file's secrets, when the sip section read one.
func (fc File) credentials() (ua.Secrets, bool) {
	if fc.UA == nil {
		return nil, false
	}
	s, ok := fc.UA.Credentials.(ua.Secrets)
	return s, ok
}

// clipList joins at most n names, saying how many more there are.
func clipList(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// loopbackOrigin reports whether a normalized origin (scheme://host[:port]) is a page on
// this machine.
func loopbackOrigin(origin string) bool {
	_, hostport, _ := strings.Cut(origin, "://")
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		hostport = net.JoinHostPort(strings.Trim(hostport, "[]"), "0")
	}
	return LoopbackOnly(hostport)
}

// Refusal is nil when no finding is fatal, and otherwise an error naming each fatal one:
// why a gateway does not start.
func Refusal(findings []Finding) error {
	var errs []error
	for _, f := range findings {
		if f.Fatal {
			errs = append(errs, fmt.Errorf("%s: %s", f.Setting, f.Why))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("refusing to start with an unsafe config (`parkway gateway --check-config` explains every setting):\n%w", errors.Join(errs...))
}
