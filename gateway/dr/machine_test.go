package dr

import (
	"errors"
	"fmt"
	"testing"

	"github.com/parkway/parkway/signaling"
)

const (
	normal     = signaling.PhaseNormal
	outage     = signaling.PhaseOutage
	failover   = signaling.PhaseFailover
	failedOver = signaling.PhaseFailedOver
	failback   = signaling.PhaseFailback
)

// st builds a State from a phase and flags: h = home healthy, b = backup healthy,
// r = failover requested, p = planned.
func st(p signaling.Phase, flags string) State {
	s := State{Phase: p}
	for _, f := range flags {
		switch f {
		case 'h':
			s.HomeHealthy = true
		case 'b':
			s.BackupHealthy = true
		case 'r':
			s.FailoverRequested = true
		case 'p':
			s.Planned = true
		default:
			panic("bad flag " + string(f))
		}
	}
	return s
}

// refused marks a cell whose event must be refused with a *TransitionError.
var refused = State{Phase: "refused"}

// TestNextTable walks every (phase, event) cell of the machine in machine.go, for every
// reachable combination of the guard flags that changes the answer. Each row is one
// starting state; every event has an expected result, so a new event or phase that is
// not covered fails the completeness check at the end.
func TestNextTable(t *testing.T) {
	type row struct {
		from State
		want map[Event]State
	}
	rows := []row{
		// normal, both pools healthy: the starting point.
		{st(normal, "hb"), map[Event]State{
			EventHomeDown:     st(outage, "b"),
			EventHomeUp:       st(normal, "hb"),
			EventBackupDown:   st(normal, "h"),
			EventBackupUp:     st(normal, "hb"),
			EventRedirected:   refused,
			EventFailover:     st(failover, "hbrp"), // planned failover
			EventFailback:     refused,              // already home
			EventFailbackDone: refused,
		}},
		// normal with the backup down: a planned failover has nowhere to go.
		{st(normal, "h"), map[Event]State{
			EventHomeDown:     st(outage, ""),
			EventHomeUp:       st(normal, "h"),
			EventBackupDown:   st(normal, "h"),
			EventBackupUp:     st(normal, "hb"),
			EventRedirected:   refused,
			EventFailover:     refused,
			EventFailback:     refused,
			EventFailbackDone: refused,
		}},
		// outage, redirection to the backup running.
		{st(outage, "b"), map[Event]State{
			EventHomeDown:     st(outage, "b"),
			EventHomeUp:       st(failback, "hb"), // the move is turned around
			EventBackupDown:   st(outage, ""),
			EventBackupUp:     st(outage, "b"),
			EventRedirected:   st(failover, "b"),
			EventFailover:     st(outage, "br"), // recorded, completes on redirected
			EventFailback:     refused,          // home is down
			EventFailbackDone: refused,
		}},
		// outage with the backup down too.
		{st(outage, ""), map[Event]State{
			EventHomeDown:     st(outage, ""),
			EventHomeUp:       st(failback, "h"),
			EventBackupDown:   st(outage, ""),
			EventBackupUp:     st(outage, "b"),
			EventRedirected:   st(failover, ""),
			EventFailover:     refused, // backup down
			EventFailback:     refused, // home down
			EventFailbackDone: refused,
		}},
		// outage after an admin failover request.
		{st(outage, "br"), map[Event]State{
			EventHomeDown:     st(outage, "br"),
			EventHomeUp:       st(outage, "hbr"), // the admin asked for failover: honour it
			EventBackupDown:   st(outage, "r"),
			EventBackupUp:     st(outage, "br"),
			EventRedirected:   st(failedOver, "b"),
			EventFailover:     refused, // already requested
			EventFailback:     refused, // home down
			EventFailbackDone: refused,
		}},
		// outage, failover requested, and home back: the admin may still change their mind.
		{st(outage, "hbr"), map[Event]State{
			EventHomeDown:     st(outage, "br"),
			EventHomeUp:       st(outage, "hbr"),
			EventBackupDown:   st(outage, "hr"),
			EventBackupUp:     st(outage, "hbr"),
			EventRedirected:   st(failedOver, "hb"),
			EventFailover:     refused,
			EventFailback:     st(failback, "hb"),
			EventFailbackDone: refused,
		}},
		// failover after an outage: users on the backup, home down.
		{st(failover, "b"), map[Event]State{
			EventHomeDown:     st(failover, "b"),
			EventHomeUp:       st(failover, "hb"), // sticky: an admin decides
			EventBackupDown:   st(failover, ""),
			EventBackupUp:     st(failover, "b"),
			EventRedirected:   refused,
			EventFailover:     st(failedOver, "b"),
			EventFailback:     refused, // home down
			EventFailbackDone: refused,
		}},
		// failover after an outage, home healthy again.
		{st(failover, "hb"), map[Event]State{
			EventHomeDown:     st(failover, "b"),
			EventHomeUp:       st(failover, "hb"),
			EventBackupDown:   st(failover, "h"),
			EventBackupUp:     st(failover, "hb"),
			EventRedirected:   refused,
			EventFailover:     st(failedOver, "hb"),
			EventFailback:     st(failback, "hb"), // a blip: straight home
			EventFailbackDone: refused,
		}},
		// failover with the backup down: completing it is refused.
		{st(failover, "h"), map[Event]State{
			EventHomeDown:     st(failover, ""),
			EventHomeUp:       st(failover, "h"),
			EventBackupDown:   st(failover, "h"),
			EventBackupUp:     st(failover, "hb"),
			EventRedirected:   refused,
			EventFailover:     refused,
			EventFailback:     st(failback, "h"),
			EventFailbackDone: refused,
		}},
		// planned failover in progress (home alive, users moving to the backup).
		{st(failover, "hbrp"), map[Event]State{
			EventHomeDown:     st(failover, "brp"),
			EventHomeUp:       st(failover, "hbrp"),
			EventBackupDown:   st(failover, "hrp"),
			EventBackupUp:     st(failover, "hbrp"),
			EventRedirected:   st(failedOver, "hbp"),
			EventFailover:     refused, // in progress
			EventFailback:     st(failback, "hb"),
			EventFailbackDone: refused,
		}},
		// failed-over after an outage, home still down.
		{st(failedOver, "b"), map[Event]State{
			EventHomeDown:     st(failedOver, "b"),
			EventHomeUp:       st(failedOver, "hb"),
			EventBackupDown:   st(failedOver, ""),
			EventBackupUp:     st(failedOver, "b"),
			EventRedirected:   refused,
			EventFailover:     refused, // already failed over
			EventFailback:     refused, // home down
			EventFailbackDone: refused,
		}},
		// failed-over, home healthy: failback allowed.
		{st(failedOver, "hb"), map[Event]State{
			EventHomeDown:     st(failedOver, "b"),
			EventHomeUp:       st(failedOver, "hb"),
			EventBackupDown:   st(failedOver, "h"),
			EventBackupUp:     st(failedOver, "hb"),
			EventRedirected:   refused,
			EventFailover:     refused,
			EventFailback:     st(failback, "hb"),
			EventFailbackDone: refused,
		}},
		// failed-over after a planned failover.
		{st(failedOver, "hbp"), map[Event]State{
			EventHomeDown:     st(failedOver, "bp"),
			EventHomeUp:       st(failedOver, "hbp"),
			EventBackupDown:   st(failedOver, "hp"),
			EventBackupUp:     st(failedOver, "hbp"),
			EventRedirected:   refused,
			EventFailover:     refused,
			EventFailback:     st(failback, "hb"),
			EventFailbackDone: refused,
		}},
		// failback in progress.
		{st(failback, "hb"), map[Event]State{
			EventHomeDown:     st(outage, "b"), // home died again
			EventHomeUp:       st(failback, "hb"),
			EventBackupDown:   st(failback, "h"),
			EventBackupUp:     st(failback, "hb"),
			EventRedirected:   refused,
			EventFailover:     st(failover, "hbrp"), // turned around by an admin
			EventFailback:     refused,              // in progress
			EventFailbackDone: st(normal, "hb"),
		}},
		// failback with the backup down: it cannot be turned around.
		{st(failback, "h"), map[Event]State{
			EventHomeDown:     st(outage, ""),
			EventHomeUp:       st(failback, "h"),
			EventBackupDown:   st(failback, "h"),
			EventBackupUp:     st(failback, "hb"),
			EventRedirected:   refused,
			EventFailover:     refused,
			EventFailback:     refused,
			EventFailbackDone: st(normal, "h"),
		}},
	}

	covered := map[signaling.Phase]bool{}
	for _, r := range rows {
		covered[r.from.Phase] = true
		for _, e := range Events {
			want, ok := r.want[e]
			if !ok {
				t.Errorf("%+v: no expectation for event %s", r.from, e)
				continue
			}
			t.Run(fmt.Sprintf("%s/%s", stateName(r.from), e), func(t *testing.T) {
				got, err := Next(r.from, e)
				if want == refused {
					var te *TransitionError
					if !errors.As(err, &te) {
						t.Fatalf("Next = %+v, %v; want a *TransitionError", got, err)
					}
					if te.From != r.from.Phase || te.Event != e || te.Reason == "" {
						t.Errorf("TransitionError = %+v; want From %s, Event %s and a reason", te, r.from.Phase, e)
					}
					if !errors.Is(err, ErrTransition) {
						t.Errorf("errors.Is(%v, ErrTransition) = false", err)
					}
					if got != r.from {
						t.Errorf("refused transition changed the state: %+v -> %+v", r.from, got)
					}
					return
				}
				if err != nil {
					t.Fatalf("Next: %v; want %+v", err, want)
				}
				if got != want {
					t.Errorf("Next = %s; want %s", stateName(got), stateName(want))
				}
			})
		}
	}
	for _, p := range signaling.Phases {
		if !covered[p] {
			t.Errorf("phase %s has no row", p)
		}
	}
}

func TestNextUnknown(t *testing.T) {
	if _, err := Next(State{Phase: "bogus"}, EventHomeDown); !errors.Is(err, ErrTransition) {
		t.Errorf("unknown phase: err = %v; want a TransitionError", err)
	}
	if _, err := Next(st(normal, "hb"), Event("bogus")); !errors.Is(err, ErrTransition) {
		t.Errorf("unknown event: err = %v; want a TransitionError", err)
	}
}

// TestMovingTo checks the redirection the controller keeps running in each state.
func TestMovingTo(t *testing.T) {
	cases := []struct {
		s    State
		move Role
		on   Role
	}{
		{st(normal, "hb"), "", RoleHome},
		{st(outage, "b"), RoleBackup, RoleHome},
		{st(outage, "br"), RoleBackup, RoleHome},
		{st(failover, "b"), "", RoleBackup},
		{st(failover, "hbrp"), RoleBackup, RoleBackup},
		{st(failedOver, "b"), "", RoleBackup},
		{st(failback, "hb"), RoleHome, RoleHome},
	}
	for _, c := range cases {
		if got := c.s.MovingTo(); got != c.move {
			t.Errorf("%s: MovingTo = %q; want %q", stateName(c.s), got, c.move)
		}
		if got := c.s.UsersOn(); got != c.on {
			t.Errorf("%s: UsersOn = %q; want %q", stateName(c.s), got, c.on)
		}
	}
}

// TestWalks drives the machine through the stories of ARCHITECTURE.md §2 and issue 2.
func TestWalks(t *testing.T) {
	walk := func(name string, s State, steps ...any) {
		t.Helper()
		for i := 0; i < len(steps); i += 2 {
			e, want := steps[i].(Event), steps[i+1].(signaling.Phase)
			n, err := Next(s, e)
			if err != nil {
				t.Fatalf("%s: step %d (%s from %s): %v", name, i/2, e, s.Phase, err)
			}
			if n.Phase != want {
				t.Fatalf("%s: step %d: %s from %s gave %s; want %s", name, i/2, e, s.Phase, n.Phase, want)
			}
			s = n
		}
	}
	// The contract script's walk: outage → failover → failed-over → failback → normal.
	walk("unplanned", st(normal, "hb"),
		EventHomeDown, outage, EventRedirected, failover, EventFailover, failedOver,
		EventHomeUp, failedOver, EventFailback, failback, EventFailbackDone, normal)
	// A planned failover while home is alive, then back.
	walk("planned", st(normal, "hb"),
		EventFailover, failover, EventRedirected, failedOver,
		EventFailback, failback, EventFailbackDone, normal)
	// Home blinks during the redirection: users are brought straight back.
	walk("blip", st(normal, "hb"),
		EventHomeDown, outage, EventHomeUp, failback, EventFailbackDone, normal)
	// Home dies again while users move back.
	walk("relapse", st(failedOver, "hb"),
		EventFailback, failback, EventHomeDown, outage, EventRedirected, failover)
}

func stateName(s State) string {
	n := string(s.Phase) + "["
	for _, f := range []struct {
		on bool
		c  string
	}{{s.HomeHealthy, "h"}, {s.BackupHealthy, "b"}, {s.FailoverRequested, "r"}, {s.Planned, "p"}} {
		if f.on {
			n += f.c
		}
	}
	return n + "]"
}
