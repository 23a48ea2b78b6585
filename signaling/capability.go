package signaling

// Action is a call control the user can ask for. Each is a button in the softphone and a
// request the gateway checks with the same rule before doing anything.
type Action string

// The actions, named as the buttons are.
const (
	ActionCall     Action = "call"     // place a call to a user or number (an orbit too)
	ActionAnswer   Action = "answer"   // answer a ringing call
	ActionDecline  Action = "decline"  // refuse a ringing call (486/603 to the caller)
	ActionHangup   Action = "hangup"   // end a call
	ActionHold     Action = "hold"     // re-INVITE sendonly
	ActionResume   Action = "resume"   // re-INVITE sendrecv
	ActionTransfer Action = "transfer" // blind or attended transfer (REFER)
	ActionPark     Action = "park"     // park on the active pool's Call Park service
	ActionRetrieve Action = "retrieve" // dial an orbit to pick a parked call up
	ActionMute     Action = "mute"     // local microphone mute
	// ActionMedia gives an existing call this tab's media: a new PeerConnection's
	// offer (re-attach after a reload, "Move here" from another tab) or an ICE
	// restart of the tab's own. It is no button of its own and no entry of
	// Actions, so the pushed capabilities and the §4 buttons stay as they were.
	ActionMedia Action = "media"
)

// Actions lists every action in button order.
var Actions = []Action{
	ActionCall, ActionAnswer, ActionDecline, ActionHangup, ActionHold,
	ActionResume, ActionTransfer, ActionPark, ActionRetrieve, ActionMute,
}

// Valid reports whether a is a known action.
func (a Action) Valid() bool {
	if a == ActionMedia {
		return true
	}
	for _, k := range Actions {
		if a == k {
			return true
		}
	}
	return false
}

// Verdict says whether an action is allowed and, when it is not, why, in words the
// softphone shows beside the disabled button.
type Verdict struct {
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason,omitempty"`
}

// Capabilities maps every action to its verdict. It is what the gateway pushes to the
// softphone with every state change, and what it checks every request against.
type Capabilities map[Action]Verdict

// Reasons for refusals caused by the pool phase. They are the seed's sentences turned
// into what a user reads.
const (
	ReasonNoRegistrar        = "Calls are unavailable: the home pool is unreachable and you have not been moved to the backup pool yet"
	ReasonTransferOutage     = "Transfer is unavailable: the home pool is unreachable"
	ReasonParkOutage         = "Park is unavailable: the home pool is unreachable"
	ReasonParkResiliency     = "Park is unavailable in resiliency mode"
	ReasonRetrieveOutage     = "Retrieve is unavailable: the home pool is unreachable"
	ReasonRetrieveFailover   = "Retrieve is unavailable in resiliency mode: no calls are parked during failover"
	reasonUnknownPhase       = "The pool state is unknown"
	reasonNoCall             = "There is no call"
	reasonNotRinging         = "No call is ringing"
	reasonNotActive          = "The call is not connected"
	reasonNotHeld            = "The call is not on hold"
	reasonNotConnectedOrHeld = "There is no connected call"
)

// PhaseAllows is the capability rule by phase alone: ARCHITECTURE.md §2's table of what a user
// can do, made exact from the seed ("While in resiliency mode, users cannot park calls,
// but they can place calls on hold and transfer them. When failover is complete, calls
// can again be parked and retrieved as usual. During failback, users cannot park calls
// until they are out of resiliency mode.").
//
// Ending a call (hang up, decline) and muting one's own microphone are never refused:
// they need no pool.
func PhaseAllows(p Phase, a Action) Verdict {
	if !p.Valid() {
		return Verdict{Reason: reasonUnknownPhase}
	}
	switch a {
	case ActionCall, ActionAnswer:
		// Outage: the home registrar is gone and users are not redirected yet.
		if p == PhaseOutage {
			return Verdict{Reason: ReasonNoRegistrar}
		}
	case ActionTransfer:
		// A transfer needs a registrar to route the REFER's new INVITE.
		if p == PhaseOutage {
			return Verdict{Reason: ReasonTransferOutage}
		}
	case ActionPark:
		switch p {
		case PhaseOutage:
			return Verdict{Reason: ReasonParkOutage}
		case PhaseFailover, PhaseFailback:
			return Verdict{Reason: ReasonParkResiliency}
		}
	case ActionRetrieve:
		switch p {
		case PhaseOutage:
			return Verdict{Reason: ReasonRetrieveOutage}
		case PhaseFailover:
			// The seed: parked calls dropped with the home pool, and nobody can park in
			// resiliency mode, so there is nothing to retrieve.
			return Verdict{Reason: ReasonRetrieveFailover}
		}
		// Failback: allowed, a step beyond Lync — the call sits on the healthy backup
		// pool's park service (ARCHITECTURE.md §2).
	case ActionHold, ActionResume, ActionHangup, ActionDecline, ActionMute:
	case ActionMedia:
		// A call's media runs between the tab and the gateway: no pool in it.
	default:
		return Verdict{Reason: "Unknown action " + string(a)}
	}
	return Verdict{Allowed: true}
}

// CallAllows is the capability rule by the state of the call the action is about:
// you can only hold a connected call, answer a ringing one, and so on. Call and Retrieve
// start a new call and need none.
func CallAllows(s CallState, a Action) Verdict {
	in := func(states ...CallState) bool {
		for _, k := range states {
			if s == k {
				return true
			}
		}
		return false
	}
	ok := true
	reason := ""
	switch a {
	case ActionCall, ActionRetrieve:
	case ActionAnswer, ActionDecline:
		ok, reason = in(CallRinging), reasonNotRinging
	case ActionHangup:
		ok, reason = in(CallDialing, CallRinging, CallActive, CallHeld), reasonNoCall
	case ActionHold:
		ok, reason = in(CallActive), reasonNotActive
	case ActionResume:
		ok, reason = in(CallHeld), reasonNotHeld
	case ActionTransfer, ActionPark:
		ok, reason = in(CallActive, CallHeld), reasonNotConnectedOrHeld
	case ActionMute:
		ok, reason = in(CallDialing, CallActive, CallHeld), reasonNoCall
	case ActionMedia:
		// Every state in which the call has a media leg at the gateway.
		ok, reason = in(CallDialing, CallActive, CallHeld), reasonNoCall
	default:
		ok, reason = false, "Unknown action "+string(a)
	}
	if !ok && s == CallNone {
		reason = reasonNoCall
	}
	if ok {
		return Verdict{Allowed: true}
	}
	return Verdict{Reason: reason}
}

// Allows combines both rules for one action: the phase decides first (its reason is the
// one users need to know: "Park is unavailable in resiliency mode"), then the call.
func Allows(p Phase, s CallState, a Action) Verdict {
	if v := PhaseAllows(p, a); !v.Allowed {
		return v
	}
	return CallAllows(s, a)
}

// CapabilitiesFor is the capability rule for every action, given the phase and the state
// of the call in focus (CallNone when the user has no call). The gateway pushes it and
// the softphone enables each button exactly by it.
func CapabilitiesFor(p Phase, focus CallState) Capabilities {
	c := make(Capabilities, len(Actions))
	for _, a := range Actions {
		c[a] = Allows(p, focus, a)
	}
	return c
}
