package signaling

// CallState is where one call stands, as the softphone shows it (data-call-state).
type CallState string

// Call states. A call that is parked is no longer the parker's call: it leaves the
// parker's list and appears in the parked-calls list instead.
const (
	// CallNone stands for "no call": the context of actions that need no call.
	CallNone CallState = ""
	// CallDialing: an outgoing call that has not been answered yet.
	CallDialing CallState = "dialing"
	// CallRinging: an incoming call waiting for Answer or Decline.
	CallRinging CallState = "ringing"
	// CallActive: connected, audio both ways.
	CallActive CallState = "active"
	// CallHeld: connected and put on hold by this user.
	CallHeld CallState = "held"
	// CallEnded: over; kept briefly so the UI can show why.
	CallEnded CallState = "ended"
)

// Valid reports whether s is a known call state (CallNone included).
func (s CallState) Valid() bool {
	switch s {
	case CallNone, CallDialing, CallRinging, CallActive, CallHeld, CallEnded:
		return true
	}
	return false
}
