package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/parkway/parkway/signaling"
)

// Gateway is the gateway's metrics (doc.go lists them). Make one with NewGateway; the
// packages that see each signal call its methods, and the wiring hands it the
// functions it reads gauges from (Sessions, Calls, Relay). A nil *Gateway ignores
// every call.
type Gateway struct {
	reg *prometheus.Registry

	phase            *prometheus.GaugeVec
	poolHealthy      *prometheus.GaugeVec
	probeRTT         *prometheus.HistogramVec
	probeMisses      *prometheus.CounterVec
	transitions      *prometheus.CounterVec
	redirect         *prometheus.HistogramVec
	framesIn         *prometheus.CounterVec
	framesOut        prometheus.Counter
	refusals         *prometheus.CounterVec
	rejected         *prometheus.CounterVec
	actions          *prometheus.CounterVec
	actionDuration   *prometheus.HistogramVec
	draining         prometheus.Gauge
	knownFrameTypes  map[signaling.Type]bool
	knownErrorCodes  map[signaling.ErrorCode]bool
	knownActionNames map[signaling.Action]bool
}

// NewGateway registers the gateway's metrics, with the Go runtime and process
// collectors, in a registry of its own.
func NewGateway() *Gateway {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := factory{reg}
	g := &Gateway{
		reg:         reg,
		phase:       f.gaugeVec("parkway_dr_phase", "1 for the current disaster-recovery phase, 0 for the others.", "phase"),
		poolHealthy: f.gaugeVec("parkway_dr_pool_healthy", "1 while the prober counts the pool healthy.", "pool", "role"),
		probeRTT: f.histogramVec("parkway_dr_probe_rtt_seconds", "Round trip of answered OPTIONS probes.",
			prometheus.ExponentialBuckets(0.0005, 2, 10), "pool"),
		probeMisses: f.counterVec("parkway_dr_probe_misses_total", "OPTIONS probes unanswered in time or answered 5xx.", "pool"),
		transitions: f.counterVec("parkway_dr_phase_transitions_total", "Phase changes by the machine event that caused them.", "from", "to", "cause"),
		redirect: f.histogramVec("parkway_dr_redirect_duration_seconds", "One attempt at moving every signed-in user to a pool.",
			prometheus.ExponentialBuckets(0.01, 2, 12), "to", "result"),
		framesIn:  f.counterVec("parkway_ws_messages_received_total", "Websocket frames from tabs by signaling type.", "type"),
		framesOut: f.counter("parkway_ws_messages_sent_total", "Websocket frames written to tabs."),
		refusals:  f.counterVec("parkway_ws_refusals_total", "Error messages sent to tabs by signaling error code.", "code"),
		rejected:  f.counterVec("parkway_ws_rejected_total", "Websocket upgrades refused, by why.", "reason"),
		actions:   f.counterVec("parkway_call_actions_total", "Call actions carried out, by outcome (ok or the error code).", "action", "outcome"),
		actionDuration: f.histogramVec("parkway_call_action_duration_seconds", "How long a call action took; action=call is call setup, dial to answer.",
			prometheus.ExponentialBuckets(0.005, 2, 14), "action"),
		draining:         f.gauge("parkway_draining", "1 while the gateway drains before exiting."),
		knownFrameTypes:  map[signaling.Type]bool{},
		knownErrorCodes:  map[signaling.ErrorCode]bool{},
		knownActionNames: map[signaling.Action]bool{},
	}
	for _, p := range signaling.Phases {
		g.phase.WithLabelValues(string(p))
	}
	for _, t := range []signaling.Type{signaling.TypeAuth, signaling.TypePing, signaling.TypePong, signaling.TypeAction, signaling.TypeICE} {
		g.knownFrameTypes[t] = true
	}
	for _, c := range []signaling.ErrorCode{signaling.CodeMalformed, signaling.CodeTooLarge, signaling.CodeUnknownType,
		signaling.CodeVersion, signaling.CodeBadField, signaling.CodeUnauthorized, signaling.CodeRefused, signaling.CodeNoCall,
		signaling.CodeNotFound, signaling.CodeUnavailable, signaling.CodeInternal, signaling.CodeRateLimited,
		signaling.CodeTooManyCalls, signaling.CodeDraining} {
		g.knownErrorCodes[c] = true
		g.refusals.WithLabelValues(string(c))
	}
	for _, a := range signaling.Actions {
		g.knownActionNames[a] = true
	}
	return g
}

// Registry is where the gateway's metrics live, for Handler and for tests.
func (g *Gateway) Registry() *prometheus.Registry {
	if g == nil {
		return nil
	}
	return g.reg
}

// Phase sets the phase gauges: 1 for p, 0 for the others.
func (g *Gateway) Phase(p signaling.Phase) {
	if g == nil {
		return
	}
	for _, q := range signaling.Phases {
		v := 0.0
		if q == p {
			v = 1
		}
		g.phase.WithLabelValues(string(q)).Set(v)
	}
}

// PoolHealth records whether the prober counts a pool (home or backup) healthy.
func (g *Gateway) PoolHealth(pool, role string, healthy bool) {
	if g == nil {
		return
	}
	g.poolHealthy.WithLabelValues(pool, role).Set(b2f(healthy))
}

// Probe records one OPTIONS probe: its round trip when answered, a miss when not.
func (g *Gateway) Probe(pool string, rtt time.Duration, answered bool) {
	if g == nil {
		return
	}
	if answered {
		g.probeRTT.WithLabelValues(pool).Observe(rtt.Seconds())
		return
	}
	g.probeMisses.WithLabelValues(pool).Inc()
}

// Transition counts a phase change and sets the phase gauges.
func (g *Gateway) Transition(from, to signaling.Phase, cause string) {
	if g == nil {
		return
	}
	g.transitions.WithLabelValues(string(from), string(to), cause).Inc()
	g.Phase(to)
}

// Redirected records one redirection attempt towards pool to.
func (g *Gateway) Redirected(to string, took time.Duration, err error) {
	if g == nil {
		return
	}
	g.redirect.WithLabelValues(to, result(err)).Observe(took.Seconds())
}

// FrameIn counts a frame from a tab; t is its envelope's type, "" when it was not
// decodable. Types outside the contract count as "invalid", so a client cannot grow the
// label set.
func (g *Gateway) FrameIn(t signaling.Type) {
	if g == nil {
		return
	}
	label := "invalid"
	if g.knownFrameTypes[t] {
		label = string(t)
	}
	g.framesIn.WithLabelValues(label).Inc()
}

// FrameOut counts a frame written to a tab.
func (g *Gateway) FrameOut() {
	if g == nil {
		return
	}
	g.framesOut.Inc()
}

// Refused counts an error message sent to a tab.
func (g *Gateway) Refused(code signaling.ErrorCode) {
	if g == nil {
		return
	}
	if !g.knownErrorCodes[code] {
		code = "other"
	}
	g.refusals.WithLabelValues(string(code)).Inc()
}

// Rejected counts a websocket upgrade refused: "draining" or "full".
func (g *Gateway) Rejected(reason string) {
	if g == nil {
		return
	}
	g.rejected.WithLabelValues(reason).Inc()
}

// Action records a call action carried out: how long it took and its outcome (nil:
// ok, else the error's code).
func (g *Gateway) Action(a signaling.Action, took time.Duration, e *signaling.Error) {
	if g == nil || !g.knownActionNames[a] {
		return
	}
	outcome := "ok"
	if e != nil {
		outcome = string(e.Code)
		if !g.knownErrorCodes[e.Code] {
			outcome = "other"
		}
	}
	g.actions.WithLabelValues(string(a), outcome).Inc()
	g.actionDuration.WithLabelValues(string(a)).Observe(took.Seconds())
}

// Draining sets the draining gauge.
func (g *Gateway) Draining(on bool) {
	if g == nil {
		return
	}
	g.draining.Set(b2f(on))
}

// Sessions reads the websocket session count from n at each scrape.
func (g *Gateway) Sessions(n func() int) {
	if g == nil {
		return
	}
	g.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "parkway_ws_sessions", Help: "Authenticated websocket sessions."},
		func() float64 { return float64(n()) }))
}

// Calls reads the calls by state from n at each scrape.
func (g *Gateway) Calls(n func() map[signaling.CallState]int) {
	if g == nil {
		return
	}
	g.reg.MustRegister(&callsCollector{read: n})
}

// Relay reads the media relay's totals from read at each scrape.
func (g *Gateway) Relay(read func() Relay) {
	if g == nil {
		return
	}
	g.reg.MustRegister(&relayCollector{read: read})
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
