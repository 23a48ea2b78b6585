package edge

import (
	"context"
	"net"
	"net/http"

	"github.com/coder/websocket"
)

// Accept upgrades r to a websocket session and serves it until it ends; the handler
// goroutine is the session's reader (see Session.run). The caller has checked the
// method and the origin: originPatterns are for coder/websocket's own origin check and
// must allow exactly what the caller's does. A closing or full edge closes the new
// websocket at once with 1013.
func (s *Server) Accept(w http.ResponseWriter, r *http.Request, originPatterns []string) {
	// Native clients may use websocket-level pings and pongs; they count as signs of
	// life too. The callbacks run inside the reader's Read, after sess is set.
	var sess *Session
	rec := &hijackRecorder{ResponseWriter: w}
	conn, err := websocket.Accept(rec, r, &websocket.AcceptOptions{
		OriginPatterns: originPatterns,
		OnPingReceived: func(context.Context, []byte) bool { sess.seen(); return true },
		OnPongReceived: func(context.Context, []byte) { sess.seen() },
	})
	if err != nil {
		s.log.Debug("websocket accept", "err", err) // Accept has answered the request
		return
	}
	sess = newSession(s, conn)
	sess.upgraded = rec.conn
	sess.wire = newRawWire(rec.conn)
	sess.raw, _ = r.Context().Value(rawConnKey{}).(net.Conn)
	if !s.track(sess) {
		// Closing, or filled up since the caller's check.
		conn.Close(websocket.StatusTryAgainLater, "gateway shutting down or full")
		return
	}
	defer s.untrack(sess)
	s.log.Debug("session started", "session", sess.id, "remote", r.RemoteAddr)
	sess.run()
}
