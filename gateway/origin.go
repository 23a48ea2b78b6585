package gateway

import (
	"net/http"
	"net/url"
	"strings"
)

// originPolicy decides which browser pages may use the gateway's credentialed endpoints:
// /ws (a websocket is not bound by CORS, so without this any site could open one in a
// visitor's browser) and the state-changing API (a cross-site form POST needs no CORS
// preflight either).
type originPolicy struct {
	allowed map[string]bool // normalized scheme://host[:port]
}

func newOriginPolicy(lists ...[]string) originPolicy {
	p := originPolicy{allowed: map[string]bool{}}
	for _, l := range lists {
		for _, o := range l {
			if n, err := ParseOrigin(o); err == nil {
				p.allowed[n] = true
			}
		}
	}
	return p
}

// allows reports whether r may proceed. No Origin header means no browser page is
// behind the request (curl, the dr CLI, a native client), so there is nobody to forge
// it for. A page from the gateway's own host is the softphone itself; the host is
// compared as coder/websocket does, so both checks agree. "null" (sandboxed frames,
// file: pages) is never allowed.
func (p originPolicy) allows(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return p.allowed[strings.ToLower(u.Scheme+"://"+u.Host)]
}

// patterns is the list for websocket.AcceptOptions.OriginPatterns, so the library's own
// check allows exactly what allows does (it matches "scheme://host" when a pattern has
// a scheme). path.Match metacharacters are escaped: an origin is a literal, not a glob.
func (p originPolicy) patterns() []string {
	out := make([]string, 0, len(p.allowed))
	for o := range p.allowed {
		out = append(out, globEscape.Replace(o))
	}
	return out
}

var globEscape = strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
