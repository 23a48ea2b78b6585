package signaling

// Phase is the disaster-recovery phase of a home/backup pool pair (ARCHITECTURE.md §2).
type Phase string

// The five phases. Resiliency mode is failover and failback: users are being moved
// between registrars and the Call Park application is not available to them.
const (
	// PhaseNormal: the home pool serves its users with its own Call Park settings.
	PhaseNormal Phase = "normal"
	// PhaseOutage: the home pool is unreachable and users are not yet redirected.
	PhaseOutage Phase = "outage"
	// PhaseFailover: users are redirected to the backup registrar (resiliency mode).
	PhaseFailover Phase = "failover"
	// PhaseFailedOver: failover is complete; the backup pool serves users with the
	// backup pool's Call Park settings.
	PhaseFailedOver Phase = "failed-over"
	// PhaseFailback: users are moving back to the home pool (resiliency mode).
	PhaseFailback Phase = "failback"
)

// Phases lists every phase in the order a pool failure walks through them.
var Phases = []Phase{PhaseNormal, PhaseOutage, PhaseFailover, PhaseFailedOver, PhaseFailback}

// Valid reports whether p is one of the five phases.
func (p Phase) Valid() bool {
	switch p {
	case PhaseNormal, PhaseOutage, PhaseFailover, PhaseFailedOver, PhaseFailback:
		return true
	}
	return false
}

// Resiliency reports whether users are in resiliency mode in this phase: being moved
// between registrars, able to call, hold and transfer, but not to park.
func (p Phase) Resiliency() bool { return p == PhaseFailover || p == PhaseFailback }

// Describe is the human text of the phase for the softphone's status line.
func (p Phase) Describe() string {
	switch p {
	case PhaseNormal:
		return "Connected — all features available"
	case PhaseOutage:
		return "Home pool unreachable — calls in progress stay up; new calls wait for redirection"
	case PhaseFailover:
		return "Resiliency mode — park unavailable"
	case PhaseFailedOver:
		return "Running on the backup pool — all features available"
	case PhaseFailback:
		return "Resiliency mode (moving back to home pool) — park unavailable"
	}
	return "Unknown pool state " + quote(string(p))
}
