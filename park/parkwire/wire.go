package parkwire

import "time"

// ParkUser is the user part of the park access URI: INVITE sip:park@domain
// parks on any free orbit, SUBSCRIBE sip:park@domain watches them all. The
// pool's proxy routes it to its park service.
const ParkUser = "park"

// OrbitHeader carries the orbit on the park service's answers (the 200 to
// the parked party, error answers naming an orbit) and on the MESSAGE that
// tells the parker; a transferee repeats it in its sipfrag NOTIFY.
const OrbitHeader = "X-Parkway-Orbit"

// Event packages the park service notifies (RFC 6665 §7.2).
const (
	// EventDialog is the dialog event package (RFC 4235): per orbit for BLF
	// keys, or for sip:park@ listing every parked call.
	EventDialog = "dialog"
	// EventPark is Parkway's own package on sip:park@: a JSON list of parked
	// calls plus the event that changed it, for the gateway's live list.
	EventPark = "x-parkway-park"
	// ContentTypePark is EventPark's body type (a PublishedPark).
	ContentTypePark = "application/x-parkway-park+json"
)

// State is where a parked call stands. Every change is an Event.
type State string

const (
	// StateParked: the parked party hears music on hold at an orbit.
	StateParked State = "parked"
	// StateRingingBack: the pickup timeout passed and the service is
	// calling the parker (or the on-timeout URI) back.
	StateRingingBack State = "ringing-back"
	// StateRetrieved: someone took the call; the orbit is free and the park
	// service is out of the call's path.
	StateRetrieved State = "retrieved"
	// StateTimedOut: nobody took the call; it was disconnected with
	// "Park time expired" and the orbit is free.
	StateTimedOut State = "timed-out"
	// StateDisconnected: the parked party hung up while parked.
	StateDisconnected State = "disconnected"
)

// Final reports whether the call has left its orbit in this state.
func (s State) Final() bool {
	return s == StateRetrieved || s == StateTimedOut || s == StateDisconnected
}

// ParkedCall is a snapshot of one parked call.
type ParkedCall struct {
	Orbit       string    `json:"orbit"`
	ParkedParty string    `json:"parkedParty"` // URI of the party on hold
	ParkedBy    string    `json:"parkedBy"`    // URI of the parker (Referred-By), "" if unknown
	Since       time.Time `json:"since"`
	Deadline    time.Time `json:"deadline"` // when the pickup timeout fires
	State       State     `json:"state"`
	Attempts    int       `json:"attempts"`              // ring-backs made so far
	RetrievedBy string    `json:"retrievedBy,omitempty"` // who took the call
}

// Event is one change of a parked call.
type Event struct {
	Seq    uint64     `json:"seq"` // increases by one per event of a park service
	Time   time.Time  `json:"time"`
	Call   ParkedCall `json:"call"`
	Reason string     `json:"reason,omitempty"`
}

// PublishedPark is the body of an x-parkway-park NOTIFY: every call parked
// at one pool, and the event that changed the list (nil on the first NOTIFY
// and on refreshes).
type PublishedPark struct {
	Pool    string       `json:"pool"`
	Version uint64       `json:"version"`
	Event   *Event       `json:"event,omitempty"`
	Parked  []ParkedCall `json:"parked"`
}

// ParkedSinceHeader carries when a call was first parked, in RFC 3339 with
// nanoseconds. The park service puts it on its 200 to the parked party (so a
// gateway holding that leg knows the park time), and a gateway re-parking the
// leg on the other pool's park service after the first pool died repeats it
// on its INVITE (issue #10, opt-in "survivable park"): the pickup timeout then
// keeps counting from the original park, and the parker to ring back is the
// INVITE's Referred-By. A park service honours it only with park.survivable on
// and only on an INVITE its own pool's proxy vouched for (the proxy strips it
// from anyone but an authenticated user of the pool or the peer pool).
const ParkedSinceHeader = "X-Parkway-Parked-Since"

// ReasonReparked is the Event.Reason of a call that arrived at an orbit by a
// re-park (ParkedSinceHeader) rather than a first park ("parked").
const ReasonReparked = "re-parked after its park pool failed"
