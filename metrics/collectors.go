package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parkway/parkway/signaling"
)

// factory makes metrics registered in one registry.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

var callsDesc = prometheus.NewDesc("parkway_calls", "Calls the gateway carries, by call state.", []string{"state"}, nil)

// callsCollector reports every live call state, zero included, at each scrape.
type callsCollector struct {
	read func() map[signaling.CallState]int
}

func (c *callsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- callsDesc }

func (c *callsCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.read()
	for _, s := range []signaling.CallState{signaling.CallDialing, signaling.CallRinging, signaling.CallActive, signaling.CallHeld} {
		ch <- prometheus.MustNewConstMetric(callsDesc, prometheus.GaugeValue, float64(n[s]), string(s))
	}
}

// Relay is what the gateway's media bridges have relayed (media.Factory.Totals, which
// the wiring converts: this package does not import media). Jitter is in seconds.
type Relay struct {
	Legs                                                  int
	ToSIP, ToBrowser                                      uint64
	WrongSource, Malformed, UnknownPayload, CodecMismatch uint64
	NoRoute, WriteErrors                                  uint64
	LostFromSIP, LateFromSIP                              uint64
	JitterFromSIP, PeerJitter                             float64
}

var (
	relayPackets = prometheus.NewDesc("parkway_relay_packets_total", "RTP packets relayed, by direction.", []string{"direction"}, nil)
	relayDropped = prometheus.NewDesc("parkway_relay_dropped_total", "RTP packets the bridge dropped, by reason.", []string{"reason"}, nil)
	relayLate    = prometheus.NewDesc("parkway_relay_late_packets_total", "RTP packets that arrived late or twice.", []string{"direction"}, nil)
	relayLost    = prometheus.NewDesc("parkway_relay_lost_packets_total", "RTP packets missing from the sequence.", []string{"direction"}, nil)
	relayJitter  = prometheus.NewDesc("parkway_relay_jitter_seconds", "Largest interarrival jitter among live legs.", []string{"direction"}, nil)
	relayLegs    = prometheus.NewDesc("parkway_relay_legs", "Live media legs.", nil, nil)
)

// relayCollector turns one Relay read per scrape into series: the forwarding path only
// ever adds to its own atomics.
type relayCollector struct{ read func() Relay }

func (c *relayCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{relayPackets, relayDropped, relayLate, relayLost, relayJitter, relayLegs} {
		ch <- d
	}
}

func (c *relayCollector) Collect(ch chan<- prometheus.Metric) {
	r := c.read()
	counter := func(d *prometheus.Desc, v uint64, label string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), label)
	}
	counter(relayPackets, r.ToSIP, "to_sip")
	counter(relayPackets, r.ToBrowser, "to_browser")
	counter(relayDropped, r.WrongSource, "wrong_source")
	counter(relayDropped, r.Malformed, "malformed")
	counter(relayDropped, r.UnknownPayload, "unknown_payload")
	counter(relayDropped, r.CodecMismatch, "codec_mismatch")
	counter(relayDropped, r.NoRoute, "no_route")
	counter(relayDropped, r.WriteErrors, "write_error")
	counter(relayLate, r.LateFromSIP, "from_sip")
	counter(relayLost, r.LostFromSIP, "from_sip")
	ch <- prometheus.MustNewConstMetric(relayJitter, prometheus.GaugeValue, r.JitterFromSIP, "from_sip")
	ch <- prometheus.MustNewConstMetric(relayJitter, prometheus.GaugeValue, r.PeerJitter, "to_sip")
	ch <- prometheus.MustNewConstMetric(relayLegs, prometheus.GaugeValue, float64(r.Legs))
}
