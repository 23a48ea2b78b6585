package gateway

import (
	"fmt"
	"net/http"
)

// serveWS checks a websocket request, then hands it to the edge, which upgrades it and
// serves the session until it ends.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "method-not-allowed", "open a websocket with GET")
		return
	}
	// Checked here as well as by the upgrade so that the refusal is JSON and logged;
	// the patterns the edge passes to it allow exactly the same origins.
	if !s.origins.allows(r) {
		s.log.Info("websocket refused: origin not allowed", "origin", r.Header.Get("Origin"), "host", r.Host)
		writeError(w, http.StatusForbidden, "forbidden-origin", "websocket connections from "+r.Header.Get("Origin")+" are not allowed")
		return
	}
	// Checked before the upgrade so the refusal is an HTTP status a client can back
	// off on; the edge checks again, atomically, after it.
	if s.refuseWhileDraining(w) {
		return
	}
	if s.edge.Full() {
		s.cfg.Metrics.Rejected("full")
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "too-many-sessions", "the gateway is at its session limit; retry later")
		return
	}
	// One address may hold only so many (perip.go); checked before the upgrade so the
	// refusal is an HTTP status, and held until the session ends.
	addr := s.perAddr.client(r)
	if !s.perAddr.acquire(addr) {
		s.log.Info("websocket refused: too many sessions from one address", "addr", addr, "max", s.perAddr.max)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusTooManyRequests, "too-many-sessions-from-address", fmt.Sprintf("%s already has %d websocket sessions open, the most one address may have: close a tab, or retry later", addr, s.perAddr.max))
		return
	}
	defer s.perAddr.release(addr)
	s.edge.Accept(w, r, s.origins.patterns())
}
