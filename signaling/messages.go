package signaling

import (
	"regexp"
	"strings"
)

// Message types. Client → gateway: auth, ping, pong, action. Gateway → client: welcome,
// state, call, error, ping, pong.
const (
	TypeAuth    Type = "auth"
	TypePing    Type = "ping"
	TypePong    Type = "pong"
	TypeAction  Type = "action"
	TypeWelcome Type = "welcome"
	TypeState   Type = "state"
	TypeError   Type = "error"
	TypeCall    Type = "call"
)

var registry = map[Side]map[Type]func() Message{
	FromClient: {
		TypeAuth:   func() Message { return new(Auth) },
		TypePing:   func() Message { return new(Ping) },
		TypePong:   func() Message { return new(Pong) },
		TypeAction: func() Message { return new(Request) },
	},
	FromGateway: {
		TypeWelcome: func() Message { return new(Welcome) },
		TypeState:   func() Message { return new(State) },
		TypeError:   func() Message { return new(Error) },
		TypeCall:    func() Message { return new(Call) },
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
		return badField("token", "is %d characters; at most 1024", len(m.Token))
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
	// Target is whom to call or transfer to: a user name or a number.
	Target string `json:"target,omitempty"`
	// Orbit is the orbit to retrieve from, or to park on (directed park).
	Orbit string `json:"orbit,omitempty"`
	// SDP is the browser's complete offer (candidates gathered, no trickle) for the
	// call's media: required by the gateway with call, answer and retrieve, which each
	// start a media leg, and refused with any other action. The gateway's answer comes
	// back in the Call message that carries this request's id.
	SDP string `json:"sdp,omitempty"`
}

// MaxSDPSize bounds an SDP in a message: a browser's audio-only offer with a handful of
// candidates is 2–4 KiB.
const MaxSDPSize = 32 << 10

func (*Request) Type() Type { return TypeAction }

var (
	// A user name or a dialable number: what fits in a SIP URI's user part without
	// escaping. Leading + for E.164, * and # for feature codes.
	targetPattern = regexp.MustCompile(`^[A-Za-z0-9+*#][A-Za-z0-9._+*#-]{0,63}$`)
	callIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	// OrbitPattern is Lync's rule for Call Park orbit numbers (New-CsCallParkOrbit):
	// an optional * or # and one to eight digits not starting with 0, or nine digits.
	OrbitPattern = regexp.MustCompile(`^(?:[*#]?[1-9]\d{0,7}|[1-9]\d{0,8})$`)
)

func (m *Request) validate() *Error {
	if m.Action == "" {
		return badField("action", "is required")
	}
	if !m.Action.Valid() {
		return badField("action", "%q is not an action", string(m.Action))
	}
	if m.Call != "" && !callIDPattern.MatchString(m.Call) {
		return badField("call", "%q is not a call id", m.Call)
	}
	if m.Target != "" && !targetPattern.MatchString(m.Target) {
		return badField("target", "%q is not a user name or number", m.Target)
	}
	if m.Orbit != "" && !OrbitPattern.MatchString(m.Orbit) {
		return badField("orbit", "%q is not an orbit number", m.Orbit)
	}
	if m.SDP != "" {
		if e := validSDP(m.SDP); e != nil {
			return e
		}
		if !startsMedia(m.Action) {
			return badField("sdp", "is only taken with call, answer and retrieve, not %s", m.Action)
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
		if m.Target == "" && m.Call == "" {
			return badField("target", "is required to transfer a call")
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
		return badField("sdp", "is %d bytes; at most %d", len(s), MaxSDPSize)
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
}

// Call directions.
const (
	CallOutgoing = "outgoing"
	CallIncoming = "incoming"
)

func (*Call) Type() Type { return TypeCall }
func (m *Call) validate() *Error {
	if !callIDPattern.MatchString(m.ID) {
		return badField("id", "%q is not a call id", m.ID)
	}
	if m.State == CallNone || !m.State.Valid() {
		return badField("state", "%q is not a call state", string(m.State))
	}
	if m.Direction != "" && m.Direction != CallOutgoing && m.Direction != CallIncoming {
		return badField("direction", "%q is neither outgoing nor incoming", m.Direction)
	}
	if m.Orbit != "" && !OrbitPattern.MatchString(m.Orbit) {
		return badField("orbit", "%q is not an orbit number", m.Orbit)
	}
	if m.SDP != "" {
		return validSDP(m.SDP)
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
}

func (*Welcome) Type() Type { return TypeWelcome }
func (m *Welcome) validate() *Error {
	if m.User == "" {
		return badField("user", "is required")
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
}

func (*State) Type() Type { return TypeState }
func (m *State) validate() *Error {
	if !m.Phase.Valid() {
		return badField("phase", "%q is not a phase", string(m.Phase))
	}
	for a := range m.Capabilities {
		if !a.Valid() {
			return badField("capabilities", "%q is not an action", string(a))
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
