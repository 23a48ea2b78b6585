package gateway

import (
	"net"
	"net/http"
	"strings"
)

// hostGuard refuses requests whose Host is not one of the gateway's names, the defence
// against DNS rebinding: a page on evil.example that re-points its name at 127.0.0.1
// becomes same-origin with a gateway on loopback, and could sign in as a demo user, open
// /ws and drive the admin API. Its requests still say Host: evil.example, and that is
// what is checked. IP literals are always accepted: rebinding needs a DNS name.
type hostGuard struct {
	names map[string]bool // lower-case, without port; empty: every name is accepted
}

// newHostGuard accepts hosts; with none, demo mode accepts only localhost (and IP
// literals), and a gateway outside demo mode accepts any name — set Config.Hosts.
func newHostGuard(hosts []string, demo bool) hostGuard {
	g := hostGuard{names: map[string]bool{}}
	for _, h := range hosts {
		g.names[strings.ToLower(strings.TrimSuffix(h, "."))] = true
	}
	if len(g.names) == 0 && demo {
		g.names["localhost"] = true
	}
	return g
}

func (g hostGuard) allows(hostport string) bool {
	if len(g.names) == 0 {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if net.ParseIP(host) != nil {
		return true
	}
	return g.names[host]
}

func (g hostGuard) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.allows(r.Host) {
			writeError(w, http.StatusMisdirectedRequest, "unknown-host", "this gateway does not answer to "+r.Host+" (Config.Hosts)")
			return
		}
		next.ServeHTTP(w, r)
	})
}
