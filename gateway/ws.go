package gateway

import (
	"context"
	"net"
	"net/http"

	"github.com/coder/websocket"
)

// serveWS upgrades a request to a websocket session and serves it until it ends. The
// handler goroutine is the session's reader (see session.run).
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "method-not-allowed", "open a websocket with GET")
		return
	}
	// Checked here as well as by Accept so that the refusal is JSON and logged; the
	// patterns passed to Accept allow exactly the same origins.
	if !s.origins.allows(r) {
		s.log.Info("websocket refused: origin not allowed", "origin", r.Header.Get("Origin"), "host", r.Host)
		writeError(w, http.StatusForbidden, "forbidden-origin", "websocket connections from "+r.Header.Get("Origin")+" are not allowed")
		return
	}
	// Checked before the upgrade so the refusal is an HTTP status a client can back
	// off on; track checks again, atomically, after it.
	if s.full() {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "too-many-sessions", "the gateway is at its session limit; retry later")
		return
	}
	// Native clients may use websocket-level pings and pongs; they count as signs of
	// life too. The callbacks run inside the reader's Read, after sess is set.
	var sess *session
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		OriginPatterns: s.origins.patterns(),
		OnPingReceived: func(context.Context, []byte) bool { sess.seen(); return true },
		OnPongReceived: func(context.Context, []byte) { sess.seen() },
	})
	if err != nil {
		s.log.Debug("websocket accept", "err", err) // Accept has answered the request
		return
	}
	sess = newSession(s, conn)
	sess.raw, _ = r.Context().Value(rawConnKey{}).(net.Conn)
	if !s.track(sess) {
		// Closing, or filled up since the check above.
		conn.Close(websocket.StatusTryAgainLater, "gateway shutting down or full")
		return
	}
	defer s.untrack(sess)
	s.log.Debug("session started", "session", sess.id, "remote", r.RemoteAddr)
	sess.run()
}
