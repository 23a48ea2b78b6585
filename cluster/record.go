package cluster

import (
	"fmt"
	"time"

	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/signaling"
)

// phaseRecord is the value of the phase key: the cluster's one DR state. Only the
// leader (health and redirection events) and admin requests write it, each with the
// revision it read, so no change is lost to a concurrent one.
type phaseRecord struct {
	State dr.State `json:"state"`
	// Since is when Phase was entered.
	Since time.Time `json:"since"`
	// Probed: the cluster has an opinion on the pool (home, backup) — until then the
	// first majority either way is an event, as the first probe is for one controller.
	Probed [2]bool `json:"probed"`
	// Detail says why an unhealthy pool is unhealthy, as the cluster sees it.
	Detail [2]string `json:"detail,omitempty"`
	// MoveGen numbers the redirections: it grows whenever State.MovingTo changes, and a
	// gateway reports which one its users finished.
	MoveGen uint64 `json:"moveGen"`
	// By is the gateway and origin of the last change ("gw1 leader", "gw2 admin",
	// "gw3 auto-failover").
	By string `json:"by"`
	// HomeUpSince is when the cluster last declared the home pool healthy (zero while
	// it is not): AutoFailbackAfter counts from it, as Since is what AutoFailoverAfter
	// counts from. Both are in the record, not in the leader's memory, so a new leader
	// goes on with the deadline the old one had rather than starting it again.
	HomeUpSince time.Time `json:"homeUpSince,omitzero"`
	// PhaseEvent is the event that entered Phase: the cause each gateway counts its
	// transition under (parkway_dr_transitions_total), as dr.Controller does.
	PhaseEvent dr.Event `json:"phaseEvent,omitempty"`
}

// apply runs the machine on e and returns the new record, or the machine's refusal.
func (r phaseRecord) apply(e dr.Event, now time.Time, by string) (phaseRecord, error) {
	next, err := dr.Next(r.State, e)
	if err != nil {
		return r, err
	}
	out := r
	out.State, out.By = next, by
	if next.Phase != r.State.Phase {
		out.Since, out.PhaseEvent = now, e
	}
	if next.MovingTo() != r.State.MovingTo() {
		out.MoveGen++
	}
	switch e {
	case dr.EventHomeUp:
		out.HomeUpSince = now
	case dr.EventHomeDown:
		out.HomeUpSince = time.Time{}
	}
	return out, nil
}

// autoEvent is the automatic transition due at now, if any, and the origin to record
// it by — dr.Controller's rules for Config.AutoFailbackAfter and AutoFailoverAfter
// (zero: off), on the record's clock: failback once the home pool has been healthy
// for failbackAfter after an outage moved users away (never after a planned
// failover), else failover completed failoverAfter after an outage's redirection
// ended in phase failover. The deadlines are wall-clock times written by whichever
// gateway made the change, so the gateways' clocks must agree to well within them.
func (r phaseRecord) autoEvent(now time.Time, failoverAfter, failbackAfter time.Duration) (dr.Event, string) {
	s := r.State
	if failbackAfter > 0 && !s.Planned && s.HomeHealthy && !r.HomeUpSince.IsZero() &&
		now.Sub(r.HomeUpSince) >= failbackAfter &&
		(s.Phase == signaling.PhaseFailover && !s.FailoverRequested || s.Phase == signaling.PhaseFailedOver) {
		return dr.EventFailback, "auto-failback"
	}
	if failoverAfter > 0 && s.Phase == signaling.PhaseFailover && !s.FailoverRequested && now.Sub(r.Since) >= failoverAfter {
		return dr.EventFailover, "auto-failover"
	}
	return "", ""
}

// report is the value of a gateway's key in the gateways bucket: what it sees and
// where its users are.
type report struct {
	// Pools are its probes' view of home and backup.
	Pools [2]poolView `json:"pools"`
	// MovedTo and MoveGen: the redirection MoveGen of the phase record finished, this
	// gateway's users are all on MovedTo.
	MovedTo string `json:"movedTo,omitempty"`
	MoveGen uint64 `json:"moveGen"`
}

type poolView struct {
	Probed  bool   `json:"probed"`
	Healthy bool   `json:"healthy"`
	Detail  string `json:"detail,omitempty"`
}

// verdict is what a majority of the live gateways says about one pool: down, up, or
// no majority either way (then the phase keeps what it has).
type verdict int

const (
	noMajority verdict = iota
	majorityDown
	majorityUp
)

// judge counts the live gateways' views of pool i. A gateway that has not probed yet
// counts as live but votes neither way, so it can only delay a verdict.
func judge(live map[string]report, i int) (verdict, string) {
	down, up, detail := 0, 0, ""
	for _, r := range live {
		v := r.Pools[i]
		switch {
		case !v.Probed:
		case v.Healthy:
			up++
		default:
			down++
			if detail == "" {
				detail = v.Detail
			}
		}
	}
	switch n := len(live); {
	case n == 0:
		return noMajority, ""
	case down*2 > n:
		if n == 1 {
			return majorityDown, detail
		}
		return majorityDown, fmt.Sprintf("down for %d of %d gateways: %s", down, n, detail)
	case up*2 > n:
		return majorityUp, ""
	}
	return noMajority, ""
}
