package pool

import (
	"net"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park"
	"github.com/parkway/parkway/park/parkwire"
)

// Range is an orbit range, "7000"–"7099" (parkwire.Range). Orbit numbers follow
// Lync's CsCallParkOrbit rule (parkwire.ValidOrbit); the park service checks its own
// ranges, and the pool needs the same rule to know which numbers belong to its peer.
type Range = parkwire.Range

// ParkConfig is the park service's configuration (park.Config), embedded in Config.
type ParkConfig = park.Config

// inRange reports whether user is an orbit number inside r.
func inRange(r Range, user string) bool { return r.Contains(user) }

// parkService returns the pool's park service, creating it on the first Start: its
// Outbound (where ring-backs and "parked at" MESSAGEs go) is this pool's proxy, whose
// port is known only once bound. The same service is restarted by later Starts, so it
// keeps its address too.
func (p *Pool) parkService(host string) (*park.Service, error) {
	if p.park != nil {
		return p.park, nil
	}
	listen := p.cfg.ParkListen
	if listen == "" {
		listen = net.JoinHostPort(host, "0")
	}
	s, err := park.New(p.cfg.Park, park.Options{
		Listen:   listen,
		Domain:   p.cfg.Domain,
		Name:     p.cfg.Name,
		Logger:   p.log.With("part", "park"),
		Metrics:  p.metrics,
		Outbound: p.addr,
		// Tests (and only tests) may shorten the pickup timeout below Lync's 10 s.
		TestPickupTimeout: p.opt.testPickupTimeout,
		// The overload gate's read-queue ping to the service's socket (overload.go).
		ReadProbe: func(from net.Addr) bool {
			q := p.parkPing.Load()
			return q != nil && q.arrived(from)
		},
	})
	if err != nil {
		return nil, err
	}
	p.park = s
	return s, nil
}

// Park is the pool's park service, for the gateway to read parked calls and events
// (Service.Parked, Service.Events). It is nil before the first Start.
func (p *Pool) Park() *park.Service {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.park
}

// vacantRetrieve is the pool's own answer to a retrieve of one of its orbits where no
// call is: the park service's 404 "Orbit not found" (park.Service.Vacant), sent
// statelessly from the read filter instead of relaying the INVITE to the service and
// its answer back through two transactions. A pool shedding new calls still gets a
// retrieve for each call it refused, two seconds later — never refused, since a
// retrieve finishes work taken — and relaying those 404s was most of what it read at
// 1,000 cycles/s offered (issue #12, pool/BENCHMARKS.md session 26). nil for anything
// else: a request the relay would treat differently (a transfer's park to an orbit,
// Replaces, a Route, no hops left, one that must be authenticated first) goes the
// usual way.
func (n *node) vacantRetrieve(req *sip.Request) *sipError {
	if req.Method != sip.INVITE || n.park == nil || !n.ownsOrbit(req.Recipient.User) {
		return nil
	}
	if to := req.To(); to == nil || to.Params.Has("tag") || req.From() == nil || req.CallID() == nil || req.Contact() == nil {
		return nil
	}
	if req.Route() != nil || req.GetHeader("Replaces") != nil || req.GetHeader("Referred-By") != nil || req.GetHeader("b") != nil {
		return nil
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 {
		return nil
	}
	if _, ours := n.pool.users[req.From().Address.User]; ours && !n.pool.cfg.UnauthenticatedCalls && !n.trusted(req) {
		return nil // authenticateCaller challenges it first
	}
	hdrs, vacant := n.park.Vacant(req.Recipient.User)
	if !vacant {
		return nil
	}
	return &sipError{Code: park.ErrOrbitNotFound.Status, Reason: park.ErrOrbitNotFound.Text, Headers: hdrs}
}
