package pool

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Who the pool trusts, and where it lets a request go.
//
// The peer pool and this pool's park service are elements, not users: their calls are
// not challenged (the peer challenged them where they entered; the park service's are
// its own) and they skip the flood gate (their traffic is every user's). They are
// recognised by the address a request came from, which the sender does not write:
//
//   - over UDP the source must be the configured address exactly — both send from their
//     listening socket (the pool's forwardCopy sets Laddr; park stamps its requests);
//   - over TCP a connection comes from an ephemeral port, so the source IP must be the
//     configured one and the top Via must name the configured address.
//
// On a shared host (the demo's loopback) anyone on that host can pass the TCP rule; on a
// network only the peer's machine can. A UDP source address can be forged by a sender
// who never sees the answers; TLS between the pools (issue #13 item 5) closes both.
//
// No open relay: a Route header (RFC 3261 §16.4) may only lead to the peer pool, the
// park service or a registered contact; the Request-URI only ever leads to those anyway
// (route retargets by user). Anything else is answered 403 with a Warning saying why.

// trusted reports whether req came from the peer pool or this pool's park service.
func (n *node) trusted(req *sip.Request) bool {
	src, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return false
	}
	for _, addr := range n.elements() {
		if sameElement(req, src, addr) {
			return true
		}
	}
	return false
}

// elements are the peer pool's and the park service's addresses, worked out once per
// run (startNode, once the park service listens): every request asks.
func (n *node) elements() []netip.AddrPort { return n.elems }

func (n *node) findElements() []netip.AddrPort {
	var out []netip.AddrPort
	if peer := n.pool.cfg.Peer; peer != nil {
		if a, err := netip.ParseAddrPort(peer.Addr); err == nil {
			out = append(out, a)
		}
	}
	if n.park != nil {
		if a, err := netip.ParseAddrPort(n.park.Addr()); err == nil {
			out = append(out, a)
		}
	}
	return out
}

func sameElement(req *sip.Request, src, addr netip.AddrPort) bool {
	if src.Addr().Unmap() != addr.Addr().Unmap() {
		return false
	}
	if strings.EqualFold(req.Transport(), "UDP") || req.Transport() == "" {
		return src.Port() == addr.Port()
	}
	v := req.Via()
	if v == nil {
		return false
	}
	host, err := netip.ParseAddr(v.Host)
	return err == nil && host.Unmap() == addr.Addr().Unmap() && v.Port == int(addr.Port())
}

// routeAllowed reports whether a Route may send a request to hostPort.
func (n *node) routeAllowed(hostPort string) bool {
	a, err := netip.ParseAddrPort(hostPort)
	if err != nil {
		return false
	}
	for _, e := range n.elements() {
		if a.Addr().Unmap() == e.Addr().Unmap() && a.Port() == e.Port() {
			return true
		}
	}
	return n.pool.bindings.Bound(netip.AddrPortFrom(a.Addr().Unmap(), a.Port()), n.pool.opt.Now())
}

// warning is a Warning header (RFC 3261 §20.43) from this pool: code 399
// (miscellaneous), so the caller learns why it was refused.
func (n *node) warning(text string) sip.Header {
	return sip.NewHeader("Warning", "399 "+n.pool.cfg.Name+" "+strconv.Quote(text))
}

// floodTagPrefix marks the To tag of a stateless refusal from the read filter (a flood
// or overload 503, a vacant orbit's 404), so the ACK for it is dropped rather than
// relayed.
const floodTagPrefix = "pwflood"

// admit applies the flood gate to req; it returns the 503 for a source over its limit.
func (n *node) admit(req *sip.Request) *sipError {
	switch req.Method {
	case sip.OPTIONS, sip.ACK, sip.CANCEL:
		return nil
	}
	if n.trusted(req) {
		return nil
	}
	if n.pool.flood.admit(sourceIP(req.Source()), time.Now()) {
		return n.admitOverload(req)
	}
	// Retry-After: the time the bucket takes to fill up again, at least a second.
	fl := n.pool.cfg.FloodLimit
	wait := max(time.Second, time.Duration(float64(fl.Burst)/fl.PerSecond*float64(time.Second)))
	e := &sipError{Code: 503, Reason: "Too Many Requests From Your Address", RetryAfter: wait}
	e.Headers = []sip.Header{n.warning("over " + strconv.FormatFloat(fl.PerSecond, 'f', -1, 64) + " requests a second from " + sourceIP(req.Source()))}
	return e
}
