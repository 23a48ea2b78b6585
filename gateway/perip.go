package gateway

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
)

// addrLimit bounds the websocket sessions one client address holds at once
// (Config.MaxSessionsPerIP, issue 13): past it /ws answers 429, so one machine cannot
// take the gateway's whole session budget (Config.MaxSessions). Loopback is not exempt;
// `parkway demo`, where every tab comes from 127.0.0.1, allows DemoMaxSessionsPerIP.
type addrLimit struct {
	max     int
	trusted []netip.Prefix

	mu sync.Mutex
	n  map[netip.Addr]int
}

func newAddrLimit(max int, trusted []netip.Prefix) *addrLimit {
	return &addrLimit{max: max, trusted: trusted, n: map[netip.Addr]int{}}
}

// acquire counts a session for a, unless a already has max.
func (l *addrLimit) acquire(a netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[a] >= l.max {
		return false
	}
	l.n[a]++
	return true
}

func (l *addrLimit) release(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[a]--; l.n[a] <= 0 {
		delete(l.n, a)
	}
}

// client is the address r comes from: the connection's peer, or — only when that peer
// is a trusted proxy — the nearest address in X-Forwarded-For that is not one of the
// trusted proxies (entries further left were written by the client and prove nothing).
// Without TrustedProxies, X-Forwarded-For is ignored: anyone can send it.
func (l *addrLimit) client(r *http.Request) netip.Addr {
	peer := remoteAddr(r)
	if !l.isTrusted(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer // a hop we cannot read: count the proxy, not a guess
		}
		if a = a.Unmap(); !l.isTrusted(a) {
			return a
		}
	}
	return peer
}

func (l *addrLimit) isTrusted(a netip.Addr) bool {
	for _, p := range l.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// remoteAddr is r's peer address without port (the zero Addr if unreadable, which
// then shares one count).
func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}
