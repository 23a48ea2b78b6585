package edge

import (
	"time"

	"github.com/coder/websocket"

	"github.com/parkway/parkway/signaling"
)

// Drain starts the gateway's drain (SIGTERM): new websockets are refused (Draining),
// requests that would start a call are refused with the error code draining, and every
// session is sent a draining message now and closed with 1012 (service restart)
// instead of 1001 when Close ends it, so its tab reconnects, with backoff, elsewhere.
// deadline is what the message announces. A second Drain does nothing.
func (s *Server) Drain(deadline time.Duration) {
	if !s.draining.CompareAndSwap(false, true) {
		return
	}
	s.cfg.Metrics.Draining(true)
	frame, err := signaling.Encode("", &signaling.Draining{DeadlineMillis: deadline.Milliseconds()})
	if err != nil {
		s.log.Error("encode draining", "err", err)
		return
	}
	s.mu.Lock()
	live := make([]*Session, 0, len(s.live))
	for sess := range s.live {
		live = append(live, sess)
	}
	s.mu.Unlock()
	for _, sess := range live {
		sess.Offer(frame) // best effort: a tab with a full queue learns it from the close
	}
}

// Draining reports whether Drain was called.
func (s *Server) Draining() bool { return s.draining.Load() }

// goodbye is the close code and reason every session gets when the server closes.
func (s *Server) goodbye() (websocket.StatusCode, string) {
	if s.draining.Load() {
		return websocket.StatusServiceRestart, "gateway draining: reconnect"
	}
	return websocket.StatusGoingAway, "gateway shutting down"
}

// startsCall reports whether an action would start a new call, which a draining
// gateway refuses.
func startsCall(a signaling.Action) bool {
	return a == signaling.ActionCall || a == signaling.ActionRetrieve
}

// drainRefusal is the error a draining gateway answers a request with; nil when it
// takes the request.
func (s *Server) drainRefusal(req *signaling.Request) *signaling.Error {
	if !s.draining.Load() || !startsCall(req.Action) {
		return nil
	}
	return &signaling.Error{Code: signaling.CodeDraining, Message: "This gateway is shutting down and takes no new calls; the softphone reconnects to another one."}
}
