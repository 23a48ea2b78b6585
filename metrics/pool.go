package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Pool is one pool's metrics (doc.go lists them), every series labelled with the
// pool's name. The pool counts park events and refusals through it and hands it the
// functions its gauges read (Gauges). A nil *Pool ignores every call.
type Pool struct {
	reg        *prometheus.Registry
	parkEvents *prometheus.CounterVec
	refusals   *prometheus.CounterVec
}

// PoolGauges are what a pool's gauges read at each scrape.
type PoolGauges struct {
	Up, Draining    func() bool
	RegisteredUsers func() int
	OrbitsInUse     func() int
}

// NewPool registers a pool's metrics in a registry of its own; process says whether
// the Go runtime and process collectors go in too (not for the demo's pools, which
// share the gateway's process).
func NewPool(name string, process bool) *Pool {
	reg := prometheus.NewRegistry()
	if process {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"pool": name}, reg)
	p := &Pool{
		reg: reg,
		parkEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parkway_park_events_total",
			Help: "Parked-call events: parked, ringing-back (one per ring-back), retrieved, timed-out, disconnected."}, []string{"event"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parkway_park_refusals_total",
			Help: "Park or retrieve requests refused, by SIP status."}, []string{"code"}),
	}
	wrapped.MustRegister(p.parkEvents, p.refusals)
	for _, e := range []string{"parked", "ringing-back", "retrieved", "timed-out", "disconnected"} {
		p.parkEvents.WithLabelValues(e)
	}
	return p
}

// Registry is where the pool's metrics live.
func (p *Pool) Registry() *prometheus.Registry {
	if p == nil {
		return nil
	}
	return p.reg
}

// Gauges registers the pool's gauges over g's functions (each may be nil).
func (p *Pool) Gauges(name string, g PoolGauges) {
	if p == nil {
		return
	}
	wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"pool": name}, p.reg)
	gauge := func(metric, help string, read func() float64) {
		wrapped.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metric, Help: help}, read))
	}
	if g.Up != nil {
		gauge("parkway_pool_up", "1 while the pool's SIP listeners are up.", func() float64 { return b2f(g.Up()) })
	}
	if g.Draining != nil {
		gauge("parkway_pool_draining", "1 while the pool drains.", func() float64 { return b2f(g.Draining()) })
	}
	if g.RegisteredUsers != nil {
		gauge("parkway_pool_registered_users", "Users with at least one live registration.", func() float64 { return float64(g.RegisteredUsers()) })
	}
	if g.OrbitsInUse != nil {
		gauge("parkway_park_orbits_in_use", "Calls parked now.", func() float64 { return float64(g.OrbitsInUse()) })
	}
}

// ParkEvent counts a parked call's event (its parkwire state).
func (p *Pool) ParkEvent(state string) {
	if p == nil {
		return
	}
	switch state {
	case "parked", "ringing-back", "retrieved", "timed-out", "disconnected":
		p.parkEvents.WithLabelValues(state).Inc()
	}
}

// ParkRefused counts a park or retrieve refused with a SIP status.
func (p *Pool) ParkRefused(status int) {
	if p == nil || status < 100 || status > 699 {
		return
	}
	p.refusals.WithLabelValues(strconv.Itoa(status)).Inc()
}
