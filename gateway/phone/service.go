package phone

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/gateway/edge"
	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/media"
	"github.com/parkway/parkway/metrics"
	"github.com/parkway/parkway/signaling"
)

// Controller is what the phone needs from the disaster-recovery controller: the pools
// now, and a call on every change (the parked list follows the pools' health).
type Controller interface {
	Snapshot() dr.Snapshot
	// Subscribe calls fn with every new snapshot until cancel is called; fn must not
	// block.
	Subscribe(fn func(dr.Snapshot)) (cancel func())
}

// Config is what the phone needs; the gateway fills it from its own Config.
type Config struct {
	// Registrar signs users in to SIP and out again SignOutGrace after their last
	// session ends. Required.
	Registrar    Registrar
	SignOutGrace time.Duration
	// ReattachGrace and ReattachHold: how long a call whose tab went away waits for
	// another, and what its far end hears meanwhile (reattach.go). Zero:
	// DefaultReattachGrace, media.HoldSilence.
	ReattachGrace time.Duration
	ReattachHold  media.Hold
	// SIP and Media, both set, make the phone carry calls; MediaAddr is where the
	// bridges bind their SIP-side RTP sockets, and Controller is required with them.
	SIP        *ua.Manager
	Media      *media.Factory
	MediaAddr  netip.Addr
	Controller Controller
	// MaxCalls bounds the calls one user has going, dials in progress included; a
	// call or retrieve beyond it is refused "too-many-calls". Zero: no bound.
	MaxCalls int
	Logger   *slog.Logger
	// Metrics counts call actions; nil: none.
	Metrics *metrics.Gateway
}

// Service is the phone of a gateway: it signs each authenticated user in to SIP and,
// with SIP and Media configured, carries the user's calls. It is the edge.Phone the
// gateway wires into its websocket edge.
type Service struct {
	regs   *registrations
	phones *phones // nil without Config.SIP and Config.Media
}

var _ edge.Phone = (*Service)(nil)

// New starts the phone; Close ends it.
func New(cfg Config) *Service {
	s := &Service{regs: newRegistrations(cfg.Registrar, cfg.SignOutGrace, cfg.Logger)}
	if cfg.SIP != nil && cfg.Media != nil {
		s.phones = newPhones(cfg.Controller, s.regs, cfg.Logger, cfg.SIP, cfg.Media, cfg.MediaAddr)
		s.phones.maxCalls = cfg.MaxCalls
		s.phones.metrics = cfg.Metrics
		s.phones.grace, s.phones.hold = cfg.ReattachGrace, cfg.ReattachHold
		if s.phones.grace <= 0 {
			s.phones.grace = DefaultReattachGrace
		}
		if s.phones.hold == media.HoldNothing {
			s.phones.hold = media.HoldSilence
		}
		s.regs.signedIn = s.phones.signedIn
	}
	return s
}

// Join greets a session that authenticated: its welcome (listing the user's live
// calls), the state, those calls and the parked list when the phone carries calls,
// the welcome alone otherwise; then it signs the user in, in the background.
func (s *Service) Join(sess *edge.Session, id string, w *signaling.Welcome) edge.Calls {
	user := sess.User()
	var calls edge.Calls = registered{regs: s.regs, user: user}
	if s.phones != nil {
		calls = s.phones.join(sess, user, id, w)
	} else {
		sess.Reply(id, w)
	}
	s.regs.join(user, func(err error) { sipUnavailable(sess, err) })
	return calls
}

// registered are the calls of a user on a gateway that registers users but carries no
// calls (a Registrar without SIP and Media): none, and the user's registration counts
// the session until it leaves.
type registered struct {
	edge.NoCalls
	regs *registrations
	user string
}

func (r registered) Leave(*edge.Session) { r.regs.leave(r.user) }

// sipUnavailable tells the softphone that its user could not be registered with the
// pool. The session goes on: the DR state still arrives, and the gateway keeps trying
// (registrations.join).
func sipUnavailable(sess *edge.Session, err error) {
	sess.Reply("", &signaling.Error{Code: signaling.CodeUnavailable, Message: "Calls are unavailable: the gateway could not register you with the phone system (" + err.Error() + "); it keeps trying."})
}

// Close ends the calls' pumps, the requests in flight and every leg, then the pending
// sign-outs and sign-ins; call it after the edge's sessions have ended, so that none
// can start a call or join any more.
func (s *Service) Close() {
	if s.phones != nil {
		s.phones.close()
	}
	s.regs.close()
}

// Leg is the media leg of user's call id; nil when there is none.
func (s *Service) Leg(user, id string) *media.Leg {
	ph := s.phone(user)
	if ph == nil {
		return nil
	}
	ph.mu.Lock()
	defer ph.mu.Unlock()
	if e := ph.calls[id]; e != nil {
		return e.leg
	}
	return nil
}

// Following reports whether the phone follows user's SIP agent (the user signed in and
// their calls are pumped).
func (s *Service) Following(user string) bool {
	ph := s.phone(user)
	if ph == nil {
		return false
	}
	ph.mu.Lock()
	defer ph.mu.Unlock()
	return ph.u != nil
}

// ParkedList is the parked list offered to every tab now, encoded as the "parked"
// message; nil before the first list (or without calls).
func (s *Service) ParkedList() []byte {
	if s.phones == nil {
		return nil
	}
	f := s.phones.parked
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.frame
}

// Registration is how many sessions of user count for their registration, and whether
// their sign-out is pending (the grace after the last one).
func (s *Service) Registration(user string) (sessions int, signOutPending bool) {
	g := s.regs
	g.mu.Lock()
	defer g.mu.Unlock()
	u := g.users[user]
	if u == nil {
		return 0, false
	}
	return u.sessions, u.timer != nil
}

// phone is user's phone; nil without calls or before the user's first session.
func (s *Service) phone(user string) *phone {
	if s.phones == nil {
		return nil
	}
	s.phones.mu.Lock()
	defer s.phones.mu.Unlock()
	return s.phones.users[user]
}
