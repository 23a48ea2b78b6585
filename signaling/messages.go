package signaling

import (
	"strings"

	"github.com/parkway/parkway/park/parkwire"
)

// Message types. Client → gateway: auth, ping, pong, action, ice. Gateway → client:
// welcome, state, call, parked, ice, error, ping, pong, reauth (reauth.go).
const (
	TypeAuth    Type = "auth"
	TypePing    Type = "ping"
	TypePong    Type = "pong"
	TypeAction  Type = "action"
	TypeWelcome Type = "welcome"
	TypeState   Type = "state"
	TypeError   Type = "error"
	TypeCall    Type = "call"
	TypeParked  Type = "parked"
	TypeICE     Type = "ice"
)

var registry = map[Side]map[Type]func() Message{
	FromClient: {
		TypeAuth:   func() Message { return new(Auth) },
		TypePing:   func() Message { return new(Ping) },
		TypePong:   func() Message { return new(Pong) },
		TypeAction: func() Message { return new(Request) },
		TypeICE:    func() Message { return new(ICE) },
	},
	FromGateway: {
		TypeWelcome: func() Message { return new(Welcome) },
		TypeState:   func() Message { return new(State) },
		TypeError:   func() Message { return new(Error) },
		TypeCall:    func() Message { return new(Call) },
		TypeParked:  func() Message { return new(Parked) },
		TypeICE:     func() Message { return new(ICE) },
		TypePing:    func() Message { return new(Ping) },
		TypePong:    func() Message { return new(Pong) },
	},
}

// Auth is the first message a client sends: the session token the gateway issued
// (demo sign-in, or a widget ticket exchange). Tokens never travel in URLs.
type Auth struct {
	Token string `json:"token"`
}

func (*Auth) Type() Type { return TypeAuth }
func (m *Auth) validate() *Error {
	if m.Token == "" {
		return badField("token", "is required")
	}
	if len(m.Token) > 1024 {
		return badField("token", "is "+itoa(len(m.Token))+" characters; at most 1024")
	}
	return nil
}

// Ping asks the peer to answer with Pong. Browsers cannot send websocket pings, so
// both sides use this application-level heartbeat to notice a dead peer in seconds.
type Ping struct {
	Seq uint64 `json:"seq,omitempty"`
}

func (*Ping) Type() Type       { return TypePing }
func (*Ping) validate() *Error { return nil }

// Pong answers a Ping, echoing its Seq.
type Pong struct {
	Seq uint64 `json:"seq,omitempty"`
}

func (*Pong) Type() Type       { return TypePong }
func (*Pong) validate() *Error { return nil }

// Request asks the gateway to perform a call control. The gateway checks it against the
// capability rule and answers with an error when it refuses; what happened otherwise
// shows in the next state and call messages.
type Request struct {
	Action Action `json:"action"`
	// Call names the call the action is about (answer, hang up, hold, …).
	Call string `json:"call,omitempty"`
	// Target is whom to call or transfer to (blind transfer): a user name or a number.
	Target string `json:"target,omitempty"`
	// Consult names the user's other call for an attended transfer: Call's party is
	// transferred to Consult's party (REFER with Replaces) and both calls end here.
	Consult string `json:"consult,omitempty"`
	// Muted is required with mute: true stops sending the user's microphone on Call
	// (the gateway stops forwarding it; the tab also disables its track), false
	// sends it again.
	Muted *bool `json:"muted,omitempty"`
	// Orbit is the orbit to retrieve from, or to park on (directed park).
	Orbit string `json:"orbit,omitempty"`
	// SDP is the browser's offer for the call's media: required by the gateway with
	// call, answer and retrieve, which each start a media leg, and refused with any
	// other action. The gateway's answer comes back in the Call message that carries
	// this request's id. The offer may hold all candidates, or none and trickle them
	// in ICE messages that name this request's id.
	SDP string `json:"sdp,omitempty"`
}

// MaxSDPSize bounds an SDP in a message: a browser's audio-only offer with a handful of
// candidates is 2–4 KiB.
const MaxSDPSize = 32 << 10

func (*Request) Type() Type { return TypeAction }

func (m *Request) validate() *Error {
	if m.Action == "" {
		return badField("action", "is required")
	}
	if !m.Action.Valid() {
		return badField("action", quote(string(m.Action))+" is not an action")
	}
	if m.Call != "" && !validCallID(m.Call) {
		return badField("call", quote(m.Call)+" is not a call id")
	}
	if m.Target != "" && !validTarget(m.Target) {
		return badField("target", quote(m.Target)+" is not a user name or number")
	}
	if m.Orbit != "" && !parkwire.ValidOrbit(m.Orbit) {
		return badField("orbit", quote(m.Orbit)+" is not an orbit number")
	}
	if m.Consult != "" {
		if !validCallID(m.Consult) {
			return badField("consult", quote(m.Consult)+" is not a call id")
		}
		if m.Action != ActionTransfer {
			return badField("consult", "is only taken with transfer, not "+string(m.Action))
		}
	}
	if m.Muted != nil && m.Action != ActionMute {
		return badField("muted", "is only taken with mute, not "+string(m.Action))
	}
	if m.SDP != "" {
		if e := validSDP(m.SDP); e != nil {
			return e
		}
		if !startsMedia(m.Action) && m.Action != ActionMedia {
			return badField("sdp", "is only taken with call, answer, retrieve and media, not "+string(m.Action))
		}
	}
	switch m.Action {
	case ActionCall:
		if m.Target == "" {
			return badField("target", "is required to place a call")
		}
	case ActionRetrieve:
		if m.Orbit == "" {
			return badField("orbit", "is required to retrieve a parked call")
		}
	case ActionTransfer:
		switch {
		case m.Target == "" && m.Consult == "":
			return badField("target", "or consult is required to transfer a call")
		case m.Target != "" && m.Consult != "":
			return badField("consult", "names the call of an attended transfer; a blind transfer takes target alone")
		case m.Consult != "" && m.Call == "":
			return badField("call", "is required with consult: the call to transfer")
		case m.Consult != "" && m.Consult == m.Call:
			return badField("consult", "must be another call than the one transferred")
		}
	case ActionMute:
		if m.Muted == nil {
			return badField("muted", "is required: true to mute, false to unmute")
		}
	case ActionMedia:
		if m.Call == "" {
			return badField("call", "is required: the call to give this tab's media")
		}
		if m.SDP == "" {
			return badField("sdp", "is required: the browser's offer for the call's audio")
		}
	}
	return nil
}

// startsMedia: the actions that give a call its media leg.
func startsMedia(a Action) bool {
	return a == ActionCall || a == ActionAnswer || a == ActionRetrieve
}

// validSDP checks the shape only (RFC 4566 §5: an SDP starts with its version line);
// the gateway's media stack parses the rest and says what it lacks.
func validSDP(s string) *Error {
	if len(s) > MaxSDPSize {
		return badField("sdp", "is "+itoa(len(s))+" bytes; at most "+itoa(MaxSDPSize))
	}
	if !strings.HasPrefix(s, "v=0") {
		return badField("sdp", "is not an SDP session description (it must start with v=0)")
	}
	return nil
}

// Call is one call's state as the gateway pushes it to every session of the user: on
// each change, from dialing or ringing to ended. A Call sent because of a request
// carries the request's id in its envelope and, for call, answer and retrieve, the
// gateway's SDP answer to that tab's offer.
type Call struct {
	ID    string    `json:"id"`
	Peer  string    `json:"peer,omitempty"`
	State CallState `json:"state"`
	// Direction is "outgoing" (this user placed it) or "incoming".
	Direction string `json:"direction,omitempty"`
	// Reason says why a call ended ("hung up", "not found", "declined"…) or what
	// happened to it ("held by the other party").
	Reason string `json:"reason,omitempty"`
	// SDP is the gateway's answer to the browser's offer, sent only to the tab that
	// made the offer.
	SDP string `json:"sdp,omitempty"`
	// Orbit is where this user parked the call (state ended, reason "parked"), for
	// the parker to read out.
	Orbit string `json:"orbit,omitempty"`
	// Muted says the user's microphone is not sent on this call (action mute).
	Muted bool `json:"muted,omitempty"`
	// Trace is the call's trace id (ValidTrace): the same id is in the SIP header
	// X-Parkway-Trace of the call's requests and in every log line about the call, in
	// the gateway, the pools and the park service, so one grep follows it.
	Trace string `json:"trace,omitempty"`
	// Media says, to each tab, where the call's audio is (issue 10): MediaHere, on
	// this tab's PeerConnection; MediaElsewhere, on another tab of the user (which
	// this one can take with a media action, "Move here"); MediaNeeded, on no tab
	// — the tab it was on went away and the gateway holds the call for the
	// re-attach grace, playing silence or music to the far end, then ends it with
	// ReasonBrowserGone. Empty while the call has no media leg yet (ringing), and
	// from gateways before issue 10.
	Media string `json:"media,omitempty"`
}

// Where a call's media is, per tab (Call.Media).
const (
	MediaHere      = "here"
	MediaElsewhere = "elsewhere"
	MediaNeeded    = "needed"
)

// ReasonBrowserGone is why a call ends when its tab went away and none re-attached
// it within the grace: both sides see it (the far end in the BYE's Reason header).
const ReasonBrowserGone = "the caller's browser went away"

// Call directions.
const (
	CallOutgoing = "outgoing"
	CallIncoming = "incoming"
)

func (*Call) Type() Type { return TypeCall }
func (m *Call) validate() *Error {
	if m.Trace != "" && !ValidTrace(m.Trace) {
		return badField("trace", quote(m.Trace)+" is not a trace id")
	}
	if !validCallID(m.ID) {
		return badField("id", quote(m.ID)+" is not a call id")
	}
	if m.State == CallNone || !m.State.Valid() {
		return badField("state", quote(string(m.State))+" is not a call state")
	}
	if m.Direction != "" && m.Direction != CallOutgoing && m.Direction != CallIncoming {
		return badField("direction", quote(m.Direction)+" is neither outgoing nor incoming")
	}
	if m.Orbit != "" && !parkwire.ValidOrbit(m.Orbit) {
		return badField("orbit", quote(m.Orbit)+" is not an orbit number")
	}
	switch m.Media {
	case "", MediaHere, MediaElsewhere, MediaNeeded:
	default:
		return badField("media", quote(m.Media)+" is not here, elsewhere or needed")
	}
	if m.SDP != "" {
		return validSDP(m.SDP)
	}
	return nil
}

// Parked is the live list of calls parked on every pool that is up, like a BLF panel:
// pushed after Welcome and on every change (a call parked, retrieved, ringing back,
// timed out, a pool going down), and again when the active pool changes.
type Parked struct {
	// Pool is the active pool: the pool new parks go to. Each call says which pool
	// holds it (ParkedCall.Pool): a call parked on the backup stays there through
	// failback.
	Pool  string       `json:"pool"`
	Calls []ParkedCall `json:"calls"`
}

// ParkedCall is one parked call. Times are Unix milliseconds.
type ParkedCall struct {
	Orbit string `json:"orbit"`
	// Pool is the pool whose park service holds the call.
	Pool string `json:"pool,omitempty"`
	// Peer is the parked party (a user name or number); ParkedBy who parked it.
	Peer     string `json:"peer"`
	ParkedBy string `json:"parkedBy,omitempty"`
	Since    int64  `json:"since"`
	// Expires is when the pickup timeout rings the parker back (0: no timeout).
	Expires int64 `json:"expires,omitempty"`
	// State is "parked", or "ringing-back" while the parker is being called back.
	State string `json:"state,omitempty"`
}

func (*Parked) Type() Type { return TypeParked }
func (m *Parked) validate() *Error {
	for i, c := range m.Calls {
		if !parkwire.ValidOrbit(c.Orbit) {
			return badField("calls", "["+itoa(i)+"]: "+quote(c.Orbit)+" is not an orbit number")
		}
	}
	return nil
}

// ICE trickles one ICE candidate of a call's media, either way. Ref is the id of the
// action (call, answer, retrieve or media) whose offer started the media leg: the browser
// trickles before it knows the call's id, and the gateway answers in kind. An empty
// Candidate means that side has gathered all its candidates.
type ICE struct {
	Ref       string `json:"ref"`
	Candidate string `json:"candidate"`
	// SDPMid and SDPMLineIndex are RTCIceCandidateInit's, as the browser gives them.
	SDPMid        string  `json:"sdpMid,omitempty"`
	SDPMLineIndex *uint16 `json:"sdpMLineIndex,omitempty"`
}

// MaxCandidateSize bounds one candidate line (RFC 8839 lines are ~100–200 bytes).
const MaxCandidateSize = 1024

func (*ICE) Type() Type { return TypeICE }
func (m *ICE) validate() *Error {
	if m.Ref == "" {
		return badField("ref", "is required: the id of the call, answer or retrieve action whose offer started the media")
	}
	if len(m.Ref) > 64 {
		return badField("ref", "is "+itoa(len(m.Ref))+" characters; at most 64")
	}
	if len(m.Candidate) > MaxCandidateSize {
		return badField("candidate", "is "+itoa(len(m.Candidate))+" bytes; at most "+itoa(MaxCandidateSize))
	}
	if m.Candidate != "" && !strings.HasPrefix(m.Candidate, "candidate:") {
		return badField("candidate", "is not an ICE candidate (it must start with candidate:)")
	}
	return nil
}

// Welcome tells a client its session is authenticated.
type Welcome struct {
	User    string `json:"user"`
	Session string `json:"session"`
	// HeartbeatMillis is how often the gateway pings; a client that hears nothing for
	// a few of these reconnects.
	HeartbeatMillis int `json:"heartbeatMs"`
	// Calls are the ids of the user's live calls when the session began, each of
	// which then also arrives as a Call message. A tab that reconnects keeps these
	// calls and ends, at once, any other it still shows: the gateway no longer has
	// them. A welcome answering a refreshed token lists the calls live then.
	Calls []string `json:"calls,omitempty"`
	// NeedsMedia are those of Calls whose media is on no tab (Call.Media
	// "needed"): the tab re-attaches each with a new PeerConnection and a media
	// action within the gateway's re-attach grace, or the call ends.
	NeedsMedia []string `json:"needsMedia,omitempty"`
	// Gateways are the websocket URLs (ws:// or wss://, at most MaxGateways) of the
	// gateways of this gateway's cluster, in the order a client tries them: when its
	// link is lost it connects to the one after the gateway it was on, with the token it
	// has (every gateway of a cluster verifies it). A call its gateway's death left
	// behind is carried on by that next gateway (issue #11). Absent without a cluster.
	Gateways []string `json:"gateways,omitempty"`
}

// MaxGateways bounds Welcome.Gateways.
const MaxGateways = 16

func (*Welcome) Type() Type { return TypeWelcome }
func (m *Welcome) validate() *Error {
	if m.User == "" {
		return badField("user", "is required")
	}
	for i, id := range m.Calls {
		if !validCallID(id) {
			return badField("calls", "["+itoa(i)+"]: "+quote(id)+" is not a call id")
		}
	}
	if len(m.Gateways) > MaxGateways {
		return badField("gateways", "lists "+itoa(len(m.Gateways))+" gateways; at most "+itoa(MaxGateways))
	}
	for i, g := range m.Gateways {
		if err := CheckGatewayURL(g); err != nil {
			return badField("gateways", "["+itoa(i)+"]: "+err.Error())
		}
	}
	for i, id := range m.NeedsMedia {
		if !validCallID(id) {
			return badField("needsMedia", "["+itoa(i)+"]: "+quote(id)+" is not a call id")
		}
	}
	return nil
}

// State is the pool state the gateway pushes on connect and on every change: the phase,
// which pools are home and active, whether users are in resiliency mode, and the
// capabilities the softphone enables its buttons by.
type State struct {
	Phase        Phase        `json:"phase"`
	Status       string       `json:"status"`
	HomePool     string       `json:"homePool"`
	ActivePool   string       `json:"activePool"`
	Resiliency   bool         `json:"resiliency"`
	Capabilities Capabilities `json:"capabilities"`
	// Pools are the pair's pools with their orbits and health, so a tab can refuse a
	// directed park or a retrieve to an orbit of a pool that is down before sending it
	// (OrbitRefusal). Absent from a gateway that does not say.
	Pools []PoolState `json:"pools,omitempty"`
}

func (*State) Type() Type { return TypeState }
func (m *State) validate() *Error {
	if !m.Phase.Valid() {
		return badField("phase", quote(string(m.Phase))+" is not a phase")
	}
	for a := range m.Capabilities {
		if !a.Valid() {
			return badField("capabilities", quote(string(a))+" is not an action")
		}
	}
	for i, p := range m.Pools {
		if p.Name == "" {
			return badField("pools", "["+itoa(i)+"]: a pool needs a name")
		}
	}
	return nil
}

// NewState is the State message for a phase, given the session's call in focus.
func NewState(p Phase, home, active string, focus CallState) *State {
	return &State{
		Phase:        p,
		Status:       p.Describe(),
		HomePool:     home,
		ActivePool:   active,
		Resiliency:   p.Resiliency(),
		Capabilities: CapabilitiesFor(p, focus),
	}
}

// Type makes *Error a Message: the gateway sends refusals as {"type":"error"}.
func (*Error) Type() Type { return TypeError }
func (m *Error) validate() *Error {
	if m.Code == "" {
		return badField("code", "is required")
	}
	return nil
}
