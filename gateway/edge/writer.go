package edge

import (
	"context"
	"time"

	"github.com/coder/websocket"

	"github.com/parkway/parkway/signaling"
)

// writeLoop owns every write to the connection and decides when the session ends: on
// gateway shutdown, on a close request (auth failure, an oversized frame, a client that
// does not read), when the peer stays silent for PeerTimeout, when a write fails, or when
// the reader has stopped. It returns with the connection closed.
func (s *Session) writeLoop(readerDone <-chan struct{}) {
	cfg := &s.srv.cfg
	authTimer := time.NewTimer(cfg.AuthTimeout)
	defer authTimer.Stop()
	var ticker *time.Ticker
	var tick <-chan time.Time
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	var pingSeq uint64
	for {
		// The select only learns what woke the writer; the round's work is done holding
		// the outbox's write right (outbox.wmu), which a fan-out worker may hold between
		// rounds. The writer keeps it when it returns: nobody writes to a closed session.
		readerGone, shutdown, authTimedOut, pinged := false, false, false, false
		var reply []byte
		select {
		case <-s.srv.shutdown:
			shutdown = true
		case <-readerDone:
			readerGone = true
		case <-authTimer.C:
			authTimedOut = true
		case <-s.out.wake:
		case reply = <-s.out.replies:
		case <-tick:
			pinged = true
		}
		s.out.wmu.Lock()
		switch {
		case shutdown:
			s.close(s.srv.goodbye())
			return
		case authTimedOut:
			if s.auth.CompareAndSwap(authPending, authExpired) {
				s.closeUnauthorized("no auth message within " + cfg.AuthTimeout.String())
				return
			}
		case reply != nil:
			ok := s.write(reply)
			s.out.written()
			if !ok {
				return
			}
		case pinged:
			if exp := time.Unix(0, s.expires.Load()); !time.Now().Before(exp) {
				// A live websocket must not outlive its token (issue 13): the tab
				// re-authenticates before expiry (an auth frame with a new token), or
				// is told and closed here, within one ping interval of it.
				s.log.Info("session token expired")
				s.closeUnauthorized("the session token expired at " + exp.UTC().Format(time.RFC3339) + " and no auth with a new token came after the reauth request: sign in again")
				return
			}
			if !s.promptReauth(time.Now()) {
				return
			}
			silent := time.Since(time.Unix(0, s.lastSeen.Load()))
			if silent > cfg.PeerTimeout {
				// A peer this quiet is gone (or unable to answer); a close handshake
				// would only wait for it, so drop the connection.
				s.log.Info("heartbeat timeout", "silent", silent.Round(time.Millisecond))
				s.conn.CloseNow()
				return
			}
			pingSeq++
			f, _ := signaling.Encode("", &signaling.Ping{Seq: pingSeq})
			if !s.write(f) {
				return
			}
		}
		states, closing := s.out.take()
		for drained := false; !drained; {
			select {
			case f := <-s.out.replies:
				ok := s.write(f)
				s.out.written()
				if !ok {
					return
				}
			default:
				drained = true
			}
		}
		if closing != nil {
			// No state after the error that explains the close: it would bury it.
			s.close(websocket.StatusCode(closing.code), closing.reason)
			return
		}
		for _, st := range states {
			if !s.write(st.frame) {
				return
			}
		}
		if readerGone {
			s.conn.CloseNow()
			return
		}
		s.out.wmu.Unlock()
		if tick == nil && s.auth.Load() == authOK {
			authTimer.Stop()
			ticker = time.NewTicker(cfg.PingInterval)
			tick = ticker.C
		}
	}
}

// closeUnauthorized writes an unauthorized error saying why, then closes with 1008;
// only the writer calls it (it writes directly, not through the reply queue).
func (s *Session) closeUnauthorized(why string) {
	if f, err := signaling.Encode("", &signaling.Error{Code: signaling.CodeUnauthorized, Message: why}); err == nil {
		s.write(f)
	}
	s.close(websocket.StatusPolicyViolation, "unauthorized")
}

// write sends one frame. It has no deadline of its own: the server's watchdog closes
// the connection under a write stuck for PeerTimeout, which makes it fail.
func (s *Session) write(frame []byte) bool {
	s.writeStart.Store(time.Now().UnixNano())
	return s.wrote(s.conn.Write(context.Background(), websocket.MessageText, frame))
}

// wrote ends a write that returned err: the watchdog stops watching it, and a failed
// write closes the connection. It reports whether the write succeeded.
func (s *Session) wrote(err error) bool {
	s.writeStart.Store(0)
	if err != nil {
		s.log.Debug("write failed", "err", err)
		s.conn.CloseNow()
		return false
	}
	s.srv.cfg.Metrics.FrameOut()
	return true
}

// close runs the close handshake. coder/websocket gives the close frame 5 s to be
// written and the peer 5 s to answer; marking it as a write lets the watchdog cut the
// first wait short for a client that takes no data.
func (s *Session) close(code websocket.StatusCode, reason string) {
	s.writeStart.Store(time.Now().UnixNano())
	s.conn.Close(code, reason)
	s.writeStart.Store(0)
}
