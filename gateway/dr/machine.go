package dr

import (
	"errors"
	"fmt"

	"github.com/parkway/parkway/signaling"
)

// This file is the phase machine of ARCHITECTURE.md §2 as a pure function: no clock, no I/O, no
// locks. The controller feeds it events and does what the resulting State asks for
// (State.MovingTo says where users must be moved). The seed it implements
// (../shared/seed/call-park-during-pool-failure.md, "Call Park experience in Lync Server
// 2013 during pool failure"): "During failover to a backup pool, users are redirected to
// the backup pool and are in resiliency mode. [...] When failover is complete, calls can
// again be parked and retrieved as usual. During failback, users cannot park calls until
// they are out of resiliency mode."
//
// The table as implemented (— = refused with a *TransitionError; "=" = accepted, phase
// unchanged). "req" is State.FailoverRequested, "planned" is State.Planned.
//
//	phase \ event | home-down | home-up     | redirected     | failover (admin/auto)          | failback (admin/auto)       | failback-done
//	normal        | outage    | =           | —              | failover+req+planned [backup↑] | — already home              | —
//	outage        | =         | failback    | failover;      | outage+req [backup↑]           | failback [home↑]            | —
//	              |           | (=, if req) | failed-over if |   — if req already             |   (after home-up with req)  |
//	              |           |             |   req          |                                |                             |
//	failover      | =         | =           | failed-over    | failed-over [backup↑]          | failback [home↑]            | —
//	              |           |             |   (if req)     |   — if req (in progress)       |                             |
//	              |           |             |   — otherwise  |                                |                             |
//	failed-over   | =         | =           | —              | — already failed over          | failback [home↑]            | —
//	failback      | outage    | =           | —              | failover+req+planned [backup↑] | — in progress               | normal
//
// [backup↑] means the transition needs a healthy backup pool and [home↑] a healthy home
// pool; otherwise it is refused with the reason. backup-down and backup-up only record the
// backup's health and never change the phase: nothing in §2 moves users because the
// backup failed (users on a dead backup are the next issue's problem, see issue 5).
//
// Decisions the design left open, and why:
//   - home-up during outage: users have not all moved yet, so the move is turned around
//     (failback, resiliency mode, then normal) rather than finished. A home pool that blinks
//     for a second should not strand users on the backup until an admin notices. Once users
//     are on the backup (failover, failed-over), home coming back changes nothing: moving
//     everyone back is an admin decision (the Lync model) or AutoFailbackAfter.
//   - home-down during failback: users are moving to a pool that just died, so it is an
//     outage again and they are redirected to the backup.
//   - admin failback is accepted from failover (not only failed-over): an admin who knows
//     the outage was a blip brings users home without first completing the failover.
//   - admin failover during outage is recorded (req) instead of refused: the admin does
//     not have to wait for redirection and retry; failed-over follows as soon as users are
//     on the backup.
//   - an admin request that would change nothing (failover when failed-over, failback
//     during failback) is refused, so the CLI tells the admin the state is not what they
//     think.

// Event is something that happened to the home/backup pool pair. Health and redirection
// events are facts the controller observes; failover and failback are requests (from an
// admin, or from the automatic timers, which go through the same rules).
type Event string

// The events.
const (
	// EventHomeDown: the home pool missed Config.ProbeMisses probes in a row.
	EventHomeDown Event = "home-down"
	// EventHomeUp: the home pool answered a probe after being down (or at start).
	EventHomeUp Event = "home-up"
	// EventBackupDown, EventBackupUp: the same for the backup pool.
	EventBackupDown Event = "backup-down"
	EventBackupUp   Event = "backup-up"
	// EventRedirected: every user is registered at the backup pool (the Redirector
	// returned nil, or there is no Redirector).
	EventRedirected Event = "redirected"
	// EventFailover: an admin (or AutoFailoverAfter) asks for failover — Lync's
	// Invoke-CsPoolFailover.
	EventFailover Event = "failover"
	// EventFailback: an admin (or AutoFailbackAfter) asks for failback —
	// Invoke-CsPoolFailback.
	EventFailback Event = "failback"
	// EventFailbackDone: every user is registered at the home pool again.
	EventFailbackDone Event = "failback-done"
)

// Events lists every event, in the order of the table above.
var Events = []Event{
	EventHomeDown, EventHomeUp, EventBackupDown, EventBackupUp,
	EventRedirected, EventFailover, EventFailback, EventFailbackDone,
}

// State is what the phase machine knows: the phase and the facts that guard its
// transitions.
type State struct {
	Phase         signaling.Phase
	HomeHealthy   bool
	BackupHealthy bool
	// FailoverRequested: failover was asked for before users were on the backup (a
	// planned failover from normal, a failover during outage, or a failover that turned a
	// failback around). Failed-over follows as soon as redirection is done.
	FailoverRequested bool
	// Planned: users are on (or moving to) the backup because an admin asked while home
	// was alive, not because home failed. Automatic failback leaves planned failovers
	// alone: the admin moved users away on purpose (maintenance), and only the admin
	// brings them back.
	Planned bool
}

// Role names a pool of the pair.
type Role string

// The two roles, as PoolStatus.Role spells them.
const (
	RoleHome   Role = "home"
	RoleBackup Role = "backup"
)

// MovingTo says where users must be moved in this state: to the backup during an outage
// and a requested failover, home during failback, nowhere otherwise. The controller keeps
// exactly one redirection running towards it and cancels one whose target changed.
func (s State) MovingTo() Role {
	switch {
	case s.Phase == signaling.PhaseOutage:
		return RoleBackup
	case s.Phase == signaling.PhaseFailover && s.FailoverRequested:
		return RoleBackup
	case s.Phase == signaling.PhaseFailback:
		return RoleHome
	}
	return ""
}

// UsersOn is the pool users are registered at, or are being moved to: what
// Snapshot.ActivePool names. During an outage it is still home — users are registered
// at a dead registrar, which is why they cannot place calls.
func (s State) UsersOn() Role {
	switch s.Phase {
	case signaling.PhaseFailover, signaling.PhaseFailedOver:
		return RoleBackup
	}
	return RoleHome
}

// ErrTransition matches every *TransitionError with errors.Is.
var ErrTransition = errors.New("dr: transition refused")

// TransitionError is a refused transition: the event does not apply in this phase, or a
// guard (a pool's health) does not hold. The admin API answers it with 409 Conflict and
// Reason as the message.
type TransitionError struct {
	From   signaling.Phase
	Event  Event
	Reason string
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("dr: %s refused in phase %s: %s", e.Event, e.From, e.Reason)
}

// Is makes errors.Is(err, ErrTransition) true.
func (e *TransitionError) Is(target error) bool { return target == ErrTransition }

// Reasons for refusals, in words an admin reads in `parkway dr` output.
const (
	reasonAlreadyHome        = "users are already on the home pool"
	reasonFailedOver         = "failover is already complete: users are on the backup pool"
	reasonFailoverRequested  = "failover is already requested: it completes when users are on the backup pool"
	reasonFailoverInProgress = "failover is already in progress: users are moving to the backup pool"
	reasonFailbackInProgress = "failback is already in progress: users are moving to the home pool"
	reasonHomeDown           = "the home pool is not healthy; failback needs it answering probes"
	reasonBackupDown         = "the backup pool is not healthy; failover needs it answering probes"
	reasonNoRedirection      = "no redirection to the backup pool is in progress"
	reasonNoFailback         = "no failback is in progress"
)

// Next is the phase machine: the state after event e in state s, or a *TransitionError
// (and s unchanged) when e is refused. Pure and total: every (phase, event) pair has an
// answer, tested cell by cell in machine_test.go.
func Next(s State, e Event) (State, error) {
	refuse := func(reason string) (State, error) {
		return s, &TransitionError{From: s.Phase, Event: e, Reason: reason}
	}
	if !s.Phase.Valid() {
		return refuse(fmt.Sprintf("unknown phase %q", string(s.Phase)))
	}
	n := s
	switch e {
	case EventHomeDown:
		n.HomeHealthy = false
		switch s.Phase {
		case signaling.PhaseNormal:
			// ARCHITECTURE.md §2: outage on failed health checks; users are redirected next.
			n.Phase, n.Planned = signaling.PhaseOutage, false
		case signaling.PhaseFailback:
			// Users were moving to a pool that just died: outage again, back to the backup.
			n.Phase, n.Planned, n.FailoverRequested = signaling.PhaseOutage, false, false
		}
		// Outage, failover, failed-over: users are (going) on the backup already.
		return n, nil

	case EventHomeUp:
		n.HomeHealthy = true
		if s.Phase == signaling.PhaseOutage && !s.FailoverRequested {
			// Not everyone has moved yet: turn the move around instead of finishing it.
			n.Phase = signaling.PhaseFailback
		}
		return n, nil

	case EventBackupDown:
		n.BackupHealthy = false
		return n, nil

	case EventBackupUp:
		n.BackupHealthy = true
		return n, nil

	case EventRedirected:
		switch {
		case s.Phase == signaling.PhaseOutage && s.FailoverRequested,
			s.Phase == signaling.PhaseFailover && s.FailoverRequested:
			// The failover asked for earlier completes with the redirection.
			n.Phase, n.FailoverRequested = signaling.PhaseFailedOver, false
			return n, nil
		case s.Phase == signaling.PhaseOutage:
			// ARCHITECTURE.md §2: failover "automatic once users are re-registered at backup".
			n.Phase = signaling.PhaseFailover
			return n, nil
		}
		return refuse(reasonNoRedirection)

	case EventFailover:
		switch s.Phase {
		case signaling.PhaseFailedOver:
			return refuse(reasonFailedOver)
		case signaling.PhaseOutage, signaling.PhaseFailover:
			if s.FailoverRequested {
				if s.Phase == signaling.PhaseOutage {
					return refuse(reasonFailoverRequested)
				}
				return refuse(reasonFailoverInProgress)
			}
		}
		if !s.BackupHealthy {
			return refuse(reasonBackupDown)
		}
		switch s.Phase {
		case signaling.PhaseNormal, signaling.PhaseFailback:
			// Planned failover (ARCHITECTURE.md §2: "an admin starts a planned failover from
			// normal"), or a failback turned around: move users while home is alive.
			n.Phase, n.FailoverRequested, n.Planned = signaling.PhaseFailover, true, true
		case signaling.PhaseOutage:
			n.FailoverRequested = true
		case signaling.PhaseFailover:
			// Users are on the backup: failover completes (Invoke-CsPoolFailover).
			n.Phase = signaling.PhaseFailedOver
		}
		return n, nil

	case EventFailback:
		switch s.Phase {
		case signaling.PhaseNormal:
			return refuse(reasonAlreadyHome)
		case signaling.PhaseFailback:
			return refuse(reasonFailbackInProgress)
		}
		if !s.HomeHealthy {
			return refuse(reasonHomeDown)
		}
		// From outage (only reachable with home healthy after a requested failover),
		// failover and failed-over: ARCHITECTURE.md §2 "admin failback when home is healthy".
		n.Phase, n.FailoverRequested, n.Planned = signaling.PhaseFailback, false, false
		return n, nil

	case EventFailbackDone:
		if s.Phase == signaling.PhaseFailback {
			n.Phase = signaling.PhaseNormal
			return n, nil
		}
		return refuse(reasonNoFailback)
	}
	return refuse(fmt.Sprintf("unknown event %q", string(e)))
}
