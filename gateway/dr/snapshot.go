package dr

import "github.com/parkway/parkway/signaling"

// Snapshot is the disaster-recovery state at one moment: what GET /api/dr returns and
// what the gateway pushes to every session (as a signaling.State) when it changes.
type Snapshot struct {
	Phase      signaling.Phase `json:"phase"`
	HomePool   string          `json:"homePool"`
	BackupPool string          `json:"backupPool"`
	// ActivePool is the pool whose registrar and Call Park service users are on.
	ActivePool string       `json:"activePool"`
	Resiliency bool         `json:"resiliency"`
	Pools      []PoolStatus `json:"pools"`
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
}
