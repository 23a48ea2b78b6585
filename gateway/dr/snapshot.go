package dr

import (
	"slices"
	"time"

	"github.com/parkway/parkway/signaling"
)

// Snapshot is the disaster-recovery state at one moment: what GET /api/dr returns and
// what the gateway pushes to every session (as a signaling.State) when it changes.
//
// A Snapshot handed to a subscriber is shared with the other subscribers: treat it, and
// its Pools slice, as read-only. Controller.Snapshot returns a private copy.
type Snapshot struct {
	Phase      signaling.Phase `json:"phase"`
	HomePool   string          `json:"homePool"`
	BackupPool string          `json:"backupPool"`
	// ActivePool is the pool whose registrar and Call Park service users are on, or are
	// being moved to (State.UsersOn). During an outage it is still the home pool.
	ActivePool string       `json:"activePool"`
	Resiliency bool         `json:"resiliency"`
	Pools      []PoolStatus `json:"pools"`
	// Since is when the current phase was entered.
	Since time.Time `json:"since"`
	// FailoverRequested: an admin asked for failover before users were on the backup;
	// failed-over follows by itself once they are.
	FailoverRequested bool `json:"failoverRequested,omitempty"`
	// Redirecting names the pool users are being moved to while a redirection runs.
	Redirecting string `json:"redirecting,omitempty"`
	// RedirectError is the last failure of the running redirection, which is retried
	// until it succeeds or is superseded; empty when it has not failed.
	RedirectError string `json:"redirectError,omitempty"`
	// Seq increases with every change, so a watcher can tell stale from fresh.
	Seq uint64 `json:"seq"`
}

// PoolStatus is one pool as the controller sees it.
type PoolStatus struct {
	Name    string `json:"name"`
	Role    string `json:"role"` // "home" or "backup"
	Healthy bool   `json:"healthy"`
	SIPAddr string `json:"sipAddress"`
	Orbits  string `json:"orbits"` // e.g. "7000-7099"
	// SurvivablePark: calls parked here are re-parked on the other pool if this one
	// dies (Pool.SurvivablePark); always present, false by default.
	SurvivablePark bool `json:"survivablePark"`
	// Detail says why an unhealthy pool is unhealthy ("no answer to OPTIONS within
	// 250ms, 3 probes in a row", "503 Draining, 3 probes in a row", "not probed yet").
	Detail string `json:"detail,omitempty"`
}

// Pool returns the status of the pool with this name.
func (s Snapshot) Pool(name string) (PoolStatus, bool) {
	for _, p := range s.Pools {
		if p.Name == name {
			return p, true
		}
	}
	return PoolStatus{}, false
}

// clone returns a copy that shares no memory with s.
func (s Snapshot) clone() Snapshot {
	s.Pools = slices.Clone(s.Pools)
	return s
}

// sameAs reports whether s and o describe the same state, ignoring Seq.
func (s Snapshot) sameAs(o Snapshot) bool {
	return s.Phase == o.Phase && s.HomePool == o.HomePool && s.BackupPool == o.BackupPool &&
		s.ActivePool == o.ActivePool && s.Resiliency == o.Resiliency && s.Since.Equal(o.Since) &&
		s.FailoverRequested == o.FailoverRequested && s.Redirecting == o.Redirecting &&
		s.RedirectError == o.RedirectError && slices.Equal(s.Pools, o.Pools)
}
