package edge

import "time"

// watchWrites closes sessions whose write has been stuck for longer than PeerTimeout:
// a client that cannot take one frame in that time is as good as dead, and its writer
// must not hang on it. One goroutine watching every session replaces a timer per write,
// which at 10,000 sessions was a tenth of a fan-out's CPU (BenchmarkFanout).
func (s *Server) watchWrites() {
	period := max(s.cfg.PeerTimeout/4, 10*time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	var stuck []*Session
	for {
		select {
		case <-s.stopWatchdog:
			return
		case now := <-t.C:
			limit := now.Add(-s.cfg.PeerTimeout).UnixNano()
			stuck = stuck[:0]
			s.mu.Lock()
			for sess := range s.live {
				if w := sess.writeStart.Load(); w != 0 && w < limit {
					stuck = append(stuck, sess)
				}
			}
			s.mu.Unlock()
			for _, sess := range stuck {
				sess.log.Info("closing a client that takes no data", "for", s.cfg.PeerTimeout)
				sess.cut()
			}
		}
	}
}

// cut drops the connection under a stuck write so that the write fails and the writer
// ends the session. Closing the TCP connection works even during a close handshake;
// CloseNow is the fallback when it is not known.
func (sess *Session) cut() {
	if sess.raw != nil {
		sess.raw.Close()
	}
	sess.conn.CloseNow()
}
