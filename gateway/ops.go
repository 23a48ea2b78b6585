package gateway

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/parkway/parkway/metrics"
	"github.com/parkway/parkway/signaling"
)

// The operations endpoints (README "Operations"): /metrics (Prometheus text, the
// gateway's own registry), /healthz (200 while the process serves) and /readyz (200
// while at least one pool is healthy and the gateway is not draining; 503 with the
// reason otherwise). They answer GET from anyone who reaches the HTTP address, like
// the rest of the gateway's pages: they carry counts, never a user or call id.
func (s *Server) opsRoutes(mux *http.ServeMux) {
	h := metrics.Handler(s.cfg.Metrics.Registry(), metrics.Checks{Ready: s.ready})
	for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
		mux.Handle(p, h)
	}
}

// ready is /readyz's verdict: nil, or why a load balancer should send no new tabs here.
func (s *Server) ready() error {
	if s.edge.Draining() {
		return errors.New("draining")
	}
	snap := s.cfg.Controller.Snapshot()
	for _, p := range snap.Pools {
		if p.Healthy {
			return nil
		}
	}
	return errors.New("no pool is healthy")
}

// registerMetrics gives the metrics the gauges the gateway reads at each scrape.
func (s *Server) registerMetrics() {
	m := s.cfg.Metrics
	m.Sessions(s.edge.Sessions)
	m.Calls(func() map[signaling.CallState]int {
		if s.phones == nil {
			return nil
		}
		return s.phones.CallsByState()
	})
	if f := s.cfg.Media; f != nil {
		m.Relay(func() metrics.Relay {
			t := f.Totals()
			const unit = float64(time.Second) / 8000 // jitter is in 8 kHz timestamp units
			return metrics.Relay{
				Legs: t.Legs, ToSIP: t.ToSIP, ToBrowser: t.ToBrowser,
				WrongSource: t.WrongSource, Malformed: t.Malformed, UnknownPayload: t.UnknownPayload,
				CodecMismatch: t.CodecMismatch, NoRoute: t.NoRoute, WriteErrors: t.WriteErrors,
				LostFromSIP: t.LostFromSIP, LateFromSIP: t.LateFromSIP,
				JitterFromSIP: float64(t.MaxJitterFromSIP) * unit / float64(time.Second),
				PeerJitter:    float64(t.MaxPeerJitter) * unit / float64(time.Second),
			}
		})
	}
}

// refuseWhileDraining answers a new websocket 503 while the gateway drains; it reports
// whether it did.
func (s *Server) refuseWhileDraining(w http.ResponseWriter) bool {
	if !s.edge.Draining() {
		return false
	}
	s.cfg.Metrics.Rejected("draining")
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusServiceUnavailable, "draining", "this gateway is shutting down; connect to another one")
	return true
}

// Drain is the gateway's graceful stop (SIGTERM): it stops taking new sessions and
// calls, tells every tab (a draining message), and waits until no call is left or
// Config.DrainTimeout passes (or ctx ends). The caller then ends Serve, which closes
// the remaining websockets with 1012 (service restart) so tabs reconnect elsewhere.
// It reports how many calls were still up when it stopped waiting.
func (s *Server) Drain(ctx context.Context) int {
	timeout := s.cfg.DrainTimeout
	s.log.Info("draining: no new sessions or calls", "timeout", timeout, "calls", s.liveCalls())
	s.edge.Drain(timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		n := s.liveCalls()
		if n == 0 {
			s.log.Info("drained: no calls left")
			return 0
		}
		select {
		case <-ctx.Done():
			s.log.Warn("drain timeout: closing with calls still up", "calls", n)
			return n
		case <-t.C:
		}
	}
}

func (s *Server) liveCalls() int {
	if s.phones == nil {
		return 0
	}
	n := 0
	for _, c := range s.phones.CallsByState() {
		n += c
	}
	return n
}
