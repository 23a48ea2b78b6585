package pool

import (
	"net"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
)

// targetKind says who a request is for.
type targetKind int

const (
	targetLocal targetKind = iota // the pool itself (OPTIONS health, REGISTER)
	targetPark                    // this pool's park service
	targetUser                    // a user registered here
	targetPeer                    // the paired pool
	targetRoute                   // a Route header that names someone else (RFC 3261 §16.4)
)

// target is where the proxy sends a request: to addr over transport, with Request-URI
// replaced by uri when uri is non-nil (RFC 3261 §16.5: only registrar lookups retarget).
type target struct {
	kind      targetKind
	addr      string
	transport string
	uri       *sip.Uri
	// bindings are all of a user's live bindings when there are several: an INVITE
	// starting a dialog forks to each (fork.go). Nil with one binding.
	bindings []Binding
}

// route decides the target of a request by its Request-URI user, in this order:
// the park access user and our own orbits go to the park service; registered users to
// their newest contact, or to all of their contacts at once for an INVITE starting a
// dialog (fork.go);
// the peer's orbits to the peer; any other user goes to the peer unless the peer already
// saw the request (its address is in a Via); then a user we know gets 480, others 404.
func (n *node) route(req *sip.Request) (target, *sipError) {
	if r := req.Route(); r != nil {
		// No open relay (trust.go): only to the peer, the park service or a contact.
		hp := r.Address.HostPort()
		if r.Address.Port == 0 {
			hp = net.JoinHostPort(r.Address.Host, "5060")
		}
		if !n.routeAllowed(hp) {
			e := newSIPError(403, "Forbidden: Route Not Allowed")
			e.Headers = []sip.Header{n.warning("Route to " + hp + " is not the peer pool, the park service or a registered contact: this pool is not an open relay")}
			return target{}, e
		}
		return target{kind: targetRoute, addr: hp, transport: uriTransport(r.Address)}, nil
	}
	user := req.Recipient.User
	if user == "" || user == n.pool.cfg.Name {
		return target{kind: targetLocal}, nil
	}
	if user == parkwire.ParkUser || n.ownsOrbit(user) {
		if n.park == nil {
			return target{}, &sipError{Code: 503, Reason: "Park Service Unavailable", RetryAfter: n.pool.opt.RetryAfter}
		}
		return target{kind: targetPark, addr: n.park.Addr(), transport: "UDP"}, nil
	}
	if bs := n.pool.bindings.Get(user, n.pool.opt.Now()); len(bs) > 0 {
		t := userTarget(bs[0])
		if len(bs) > 1 {
			t.bindings = bs
		}
		return t, nil
	}
	peer := n.pool.cfg.Peer
	if peer != nil {
		for _, r := range peer.Orbits {
			if inRange(r, user) {
				return target{kind: targetPeer, addr: peer.Addr, transport: peer.transport()}, nil
			}
		}
	}
	if peer != nil && !viaContains(req, peer.Addr) {
		// Users we do not know live at the peer; users we know but who are not
		// registered here may be registered there — during a failover or failback the
		// users of one pool pair are split between its two registrars, and a ring-back
		// must find a parker whose binding moved. The peer's Via is the loop guard: a
		// request it relayed is not sent back (and were it, our own Via would make the
		// peer answer 482). A dead peer is answered for by relay's PeerTimeout.
		return target{kind: targetPeer, addr: peer.Addr, transport: peer.transport()}, nil
	}
	return target{}, n.withoutPeer(req)
}

// withoutPeer is the answer for a user found neither here nor at the peer — or whom
// the peer, being down, cannot be asked about.
func (n *node) withoutPeer(req *sip.Request) *sipError {
	if _, known := n.pool.users[req.Recipient.User]; known {
		// RFC 3261 §21.4.18: a known user who is not reachable right now.
		return newSIPError(480, "Temporarily Unavailable")
	}
	return newSIPError(404, "Not Found")
}

func (n *node) ownsOrbit(user string) bool {
	for _, r := range n.pool.cfg.Park.Orbits {
		if inRange(r, user) {
			return true
		}
	}
	return false
}

// uriTransport is the transport a URI asks for: its transport parameter, else TLS
// for a sips: URI and UDP for sip: (RFC 3263 §4.1 for a numeric host with no
// transport parameter).
func uriTransport(u sip.Uri) string {
	if tp, ok := u.UriParams.Get("transport"); ok && tp != "" {
		switch strings.ToUpper(tp) {
		case "TCP":
			return "TCP"
		case "UDP":
			return "UDP"
		case "TLS":
			return "TLS"
		}
	}
	if strings.EqualFold(u.Scheme, "sips") {
		return "TLS"
	}
	return "UDP"
}

// transport is how requests reach the peer: UDP or TLS.
func (p *Peer) transport() string {
	if tlsTransport(p.Transport) {
		return "TLS"
	}
	return "UDP"
}

// viaContains reports whether any Via of req was added by the element at addr.
func viaContains(req *sip.Request, addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	for _, h := range req.GetHeaders("Via") {
		v, ok := h.(*sip.ViaHeader)
		if ok && v.Host == host && strconv.Itoa(v.Port) == port {
			return true
		}
	}
	return false
}
