package pool

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/parkway/parkway/metrics"
)

// initMetrics makes the pool's metrics (Options.Metrics, or a registry of its own) and
// the gauges that read the pool at each scrape.
func (p *Pool) initMetrics() {
	p.metrics = p.opt.Metrics
	if p.metrics == nil {
		p.metrics = metrics.NewPool(p.cfg.Name, false)
	}
	p.metrics.Gauges(p.cfg.Name, metrics.PoolGauges{
		Up:              p.Running,
		Draining:        p.Draining,
		RegisteredUsers: p.registeredUsers,
		OrbitsInUse: func() int {
			p.mu.Lock()
			s, up := p.park, p.node != nil
			p.mu.Unlock()
			if s == nil || !up {
				return 0
			}
			return len(s.Parked())
		},
	})
}

// registeredUsers counts the pool's users with at least one live registration.
func (p *Pool) registeredUsers() int {
	n, now := 0, p.opt.Now()
	for name := range p.users {
		if len(p.bindings.Get(name, now)) > 0 {
			n++
		}
	}
	return n
}

// Metrics is the pool's metrics.
func (p *Pool) Metrics() *metrics.Pool { return p.metrics }

// OpsHandler serves the pool's operations endpoints: /metrics, /healthz (200 while the
// process serves HTTP) and /readyz (200 while the SIP listeners are up and the pool is
// not draining; 503 with the reason otherwise).
func (p *Pool) OpsHandler() http.Handler {
	return metrics.Handler(p.metrics.Registry(), metrics.Checks{Ready: p.ready})
}

func (p *Pool) ready() error {
	switch {
	case !p.Running():
		return errors.New("SIP listeners are down")
	case p.Draining():
		return errors.New("draining")
	}
	return nil
}

// ServeOps listens on Config.HTTP and serves OpsHandler there until ctx ends. It
// returns the address bound (for a port 0), or "" without an HTTP address; errc
// receives Serve's result once it has stopped.
func (p *Pool) ServeOps(ctx context.Context) (addr string, errc <-chan error, err error) {
	if p.cfg.HTTP == "" {
		return "", nil, nil
	}
	ln, err := net.Listen("tcp", p.cfg.HTTP)
	if err != nil {
		return "", nil, err
	}
	ch := make(chan error, 1)
	go func() { ch <- metrics.Serve(ctx, ln, p.OpsHandler(), p.log) }()
	return ln.Addr().String(), ch, nil
}
