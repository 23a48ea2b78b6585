package edge

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parkway/parkway/gateway/auth"
	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/metrics"
)

// Config is what the edge needs; the gateway fills it from its own Config, defaults
// applied (see the gateway's Config for each field's meaning).
type Config struct {
	AuthTimeout  time.Duration
	PingInterval time.Duration
	PeerTimeout  time.Duration
	SendQueue    int
	DrainLimit   int64
	MaxSessions  int
	// MessageRate and MessageBurst are each session's token bucket over the frames it
	// sends (messageLimit); MessageRate <= 0 means no limit.
	MessageRate  float64
	MessageBurst int
	// ReauthLead is how long before its token expires a session is sent reauth
	// (reauth.go); <= 0: never, the session is only closed at expiry.
	ReauthLead time.Duration
	Logger     *slog.Logger
	// Signer verifies the session tokens of auth frames.
	Signer *auth.Signer
	// Phone carries the calls of authenticated sessions; nil: none (NoCalls).
	Phone Phone
	// Metrics counts frames, refusals and upgrades refused; nil: none.
	Metrics *metrics.Gateway
	// Gateways are the cluster's websocket URLs every welcome lists
	// (signaling.Welcome.Gateways).
	Gateways []string
}

// Server is every websocket session of a gateway, the fan-out of the DR state to them
// and the write watchdog.
type Server struct {
	cfg Config
	log *slog.Logger
	hub *hub

	mu       sync.Mutex // protects closed, live and the Add side of sessions
	closed   bool
	live     map[*Session]struct{} // every connected session, authenticated or not
	shutdown chan struct{}         // closed by Close: every session's writer says goodbye
	sessions sync.WaitGroup
	// The watchdog outlives shutdown until every session has ended: a writer stuck on a
	// dead client during shutdown still needs it.
	watchdog     sync.WaitGroup
	stopWatchdog chan struct{}
	draining     atomic.Bool // Drain was called (drain.go)
}

// New starts an edge holding the DR state initial; Publish brings it newer ones.
// Call Close to end its sessions and its write watchdog.
func New(cfg Config, initial dr.Snapshot) *Server {
	s := &Server{
		cfg:          cfg,
		log:          cfg.Logger,
		hub:          newHub(initial),
		shutdown:     make(chan struct{}),
		live:         map[*Session]struct{}{},
		stopWatchdog: make(chan struct{}),
	}
	s.watchdog.Go(s.watchWrites)
	return s
}

// Publish takes a DR snapshot (a Controller subscriber: it never blocks on a client)
// and pushes the state to every session when it changed; snapshots older than the one
// held are ignored. It returns, with how many sessions were handed the new state, once
// the state is written to every session whose writer was idle (or is being written by
// a worker left in a blocked write) and queued for the writers of the others
// (fanout.go).
func (s *Server) Publish(snap dr.Snapshot) (pushed int) { return s.hub.publish(snap) }

// Sessions is how many authenticated websocket sessions are connected.
func (s *Server) Sessions() int { return s.hub.count() }

// Full reports whether a new session would be refused.
func (s *Server) Full() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.live) >= s.cfg.MaxSessions
}

// Close ends every session with 1001 "gateway shutting down" and waits for their
// goroutines and the watchdog. New sessions are refused after it.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.sessions.Wait()
		s.watchdog.Wait()
		return
	}
	s.closed = true
	close(s.shutdown)
	s.mu.Unlock()
	s.hub.close()
	s.sessions.Wait()
	// A fan-out worker left in a write holds that session's write right, so the
	// session's end waited for its write; the workers are only finishing.
	s.hub.writers.Wait()
	close(s.stopWatchdog)
	s.watchdog.Wait()
}

// track registers a session unless the server is closing or full; untrack undoes it.
func (s *Server) track(sess *Session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.draining.Load() || len(s.live) >= s.cfg.MaxSessions {
		return false
	}
	s.sessions.Add(1)
	s.live[sess] = struct{}{}
	return true
}

func (s *Server) untrack(sess *Session) {
	s.mu.Lock()
	delete(s.live, sess)
	s.mu.Unlock()
	s.sessions.Done()
}

type rawConnKey struct{}

// ConnContext lets the edge reach a websocket's TCP connection, to cut it when a close
// handshake hangs on a client that takes no data (coder/websocket's Close waits 5 s for
// that, and its CloseNow cannot interrupt a Close in progress). Use it as
// http.Server.ConnContext.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, rawConnKey{}, c)
}

// SessionInfo is what the edge knows of one connected session.
type SessionInfo struct {
	ID            string
	User          string // "" before auth
	Authenticated bool
	LastSeen      time.Time // the last frame, pong or websocket ping from the client
	Writing       bool      // a write to it is in progress
}

// Live lists every connected session, authenticated or not, in no order.
func (s *Server) Live() []SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SessionInfo, 0, len(s.live))
	for sess := range s.live {
		info := SessionInfo{ID: sess.id, Authenticated: sess.auth.Load() == authOK, LastSeen: time.Unix(0, sess.lastSeen.Load()), Writing: sess.writeStart.Load() != 0}
		if info.Authenticated {
			info.User = sess.claims.User // written before auth became authOK
		}
		out = append(out, info)
	}
	return out
}
