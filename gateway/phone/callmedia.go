package phone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/gateway/edge"
	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/media"
	"github.com/parkway/parkway/signaling"
)

// CallMedia lets a media.Leg's Bridge serve as a call's ua.MediaLeg: the user agent
// negotiates SIP and tells the bridge where the far end is, the bridge relays RTP. It
// lives here, not in ua, so the SIP user agent stays free of pion; and not in media,
// so the relay does not depend on the SIP stack's vocabulary.
//
// The ua calls it from the call's loop only, but SetEventPayloadType and SetRemote
// arrive as two calls that belong together, so mu keeps the event type they share.
type CallMedia struct {
	br    *media.Bridge
	log   *slog.Logger
	entry *callEntry // the gateway's side of the call, found by this leg (calls.go)

	mu      sync.Mutex
	eventPT uint8 // the far end's telephone-event type, for the next SetRemote
}

var (
	_ ua.MediaLeg           = (*CallMedia)(nil)
	_ ua.CodecLimiter       = (*CallMedia)(nil)
	_ ua.EventPayloadSetter = (*CallMedia)(nil)
)

// NewCallMedia makes leg's bridge a call's media; log hears what the ua cannot be
// told (SetEventPayloadType returns no error).
func NewCallMedia(leg *media.Leg, log *slog.Logger) *CallMedia {
	return &CallMedia{br: leg.Bridge(), log: log}
}

// callMedia is a new leg's CallMedia, logging as the user's call of action id.
func (ph *phone) callMedia(leg *media.Leg, id string) *CallMedia {
	return NewCallMedia(leg, ph.p.log.With("user", ph.name, "ref", id))
}

// LocalRTP is the bridge's SIP-side socket, announced in the SDP toward the pool.
func (m *CallMedia) LocalRTP() netip.AddrPort { return m.br.LocalAddr() }

// SetRemote points the bridge at the far end. The payload type is G.711's static one
// (RFC 3551 §6), which is exactly media.Codec's value.
func (m *CallMedia) SetRemote(addr netip.AddrPort, pt uint8) error {
	c := media.Codec(pt)
	if !c.Valid() {
		return fmt.Errorf("phone: call media: payload type %d is not G.711", pt)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.br.SetRemote(media.Remote{Addr: addr, Codec: c, EventPT: m.eventPT})
}

// SetEventPayloadType records the far end's RFC 4733 type. The ua calls it before the
// SetRemote it belongs to; when the far end changes only its event type (a re-INVITE
// with the same address and law) no SetRemote follows, so the current remote is
// updated here. The bridge refuses it only once closed (the call is ending), which
// is logged: the ua has no error to hear of, and the call's DTMF is all it affects.
func (m *CallMedia) SetEventPayloadType(pt uint8) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.eventPT = pt
	if r, _, ok := m.br.Remote(); ok && r.EventPT != pt {
		r.EventPT = pt
		// The same address and law it already took.
		if err := m.br.SetRemote(r); err != nil {
			level := slog.LevelWarn
			if errors.Is(err, media.ErrClosed) {
				level = slog.LevelDebug
			}
			m.log.Log(context.Background(), level, "call media: the far end's telephone-event type is not applied", "pt", pt, "err", err)
		}
	}
}

// SetDirection gates the bridge: ua.Direction and media.Direction are the one
// audiosdp.Direction, read from the gateway's side toward the SIP peer.
func (m *CallMedia) SetDirection(d ua.Direction) { m.br.SetDirection(d) }

// Codecs limits the SIP side to the law the browser negotiated: the bridge never
// transcodes, so offering the other law could only end in media.ErrCodecMismatch.
// Before the browser's answer nothing is fixed and the ua offers both.
func (m *CallMedia) Codecs() []uint8 {
	if c, ok := m.br.Codec(); ok {
		return []uint8{uint8(c)}
	}
	return nil
}

// Trickle ICE (JSEP §4.1.8, RFC 8838) over the websocket: ice messages name the
// call, answer or retrieve action whose offer started the leg (its ref), since the
// tab trickles before it knows the call's id.

// maxPendingCandidates bounds the candidates a tab may send for an action whose leg
// does not exist yet; a browser gathers a handful per network interface.
const maxPendingCandidates = 32

// refKey names one media-starting action: the tab that sent it and its id.
type refKey struct {
	s   *edge.Session
	ref string
}

// iceRef is the media of one action: no leg while the offer is being answered, with
// the candidates that arrived meanwhile; then the leg. It lives in phone.refs until
// the call ends, the action fails or the tab goes.
type iceRef struct {
	leg     *media.Leg
	pending []webrtc.ICECandidateInit
}

// startsMedia: the actions whose offer starts a leg.
func startsMedia(a signaling.Action) bool {
	return a == signaling.ActionCall || a == signaling.ActionAnswer || a == signaling.ActionRetrieve
}

// hasCandidates reports whether an SDP carries any ICE candidate (RFC 8839 §5.1); one
// without them is a trickling offer.
func hasCandidates(sdp string) bool {
	return strings.Contains(sdp, "\na=candidate:") || strings.Contains(sdp, "\ra=candidate:")
}

// openRef makes the action (s, id) known before it runs, so candidates the tab sends
// right after its offer are kept for the leg.
func (ph *phone) openRef(s *edge.Session, id string) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	if _, ok := ph.sessions[s]; ok {
		ph.refs[refKey{s, id}] = &iceRef{}
	}
}

// attachRef gives the action's ref its leg, once the leg has the tab's offer, and
// applies the candidates that waited for it.
func (ph *phone) attachRef(s *edge.Session, id string, leg *media.Leg) {
	ph.mu.Lock()
	r := ph.refs[refKey{s, id}]
	if r == nil {
		ph.mu.Unlock()
		return // the tab is gone; the call goes on without its candidates
	}
	r.leg = leg
	pending := r.pending
	r.pending = nil
	ph.mu.Unlock()
	for _, c := range pending {
		if err := leg.PeerConnection().AddICECandidate(c); err != nil {
			ph.p.log.Debug("trickled candidate refused", "user", ph.name, "ref", id, "err", err)
		}
	}
}

// addCandidate gives the leg of the tab's action m.Ref one candidate; a ref that names
// no media action of this tab is "no-call" (field ref).
func (ph *phone) addCandidate(s *edge.Session, m *signaling.ICE) *signaling.Error {
	c := webrtc.ICECandidateInit{Candidate: m.Candidate, SDPMLineIndex: m.SDPMLineIndex}
	if m.SDPMid != "" {
		mid := m.SDPMid
		c.SDPMid = &mid
	}
	ph.mu.Lock()
	r := ph.refs[refKey{s, m.Ref}]
	if r == nil {
		ph.mu.Unlock()
		return edge.NoMedia(m.Ref)
	}
	if r.leg == nil {
		defer ph.mu.Unlock()
		if len(r.pending) >= maxPendingCandidates {
			return &signaling.Error{Code: signaling.CodeBadField, Field: "candidate", Message: fmt.Sprintf("more than %d candidates for %q before its offer was answered", maxPendingCandidates, m.Ref)}
		}
		r.pending = append(r.pending, c)
		return nil
	}
	leg := r.leg
	ph.mu.Unlock()
	if err := leg.PeerConnection().AddICECandidate(c); err != nil {
		return &signaling.Error{Code: signaling.CodeBadField, Field: "candidate", Message: err.Error()}
	}
	return nil
}

// outTrickle sends a leg's own candidates to the tab that offered, as ice messages
// with the action's id, ending with an empty candidate. They are held until start:
// the tab must have the answer before the candidates that belong to it.
type outTrickle struct {
	s   *edge.Session
	ref string

	mu      sync.Mutex // held while sending, so candidates go out in gathering order
	started bool
	pending []*signaling.ICE
}

func newOutTrickle(s *edge.Session, ref string) *outTrickle { return &outTrickle{s: s, ref: ref} }

// candidate is the leg's OnICECandidate handler; nil means gathering is complete.
func (t *outTrickle) candidate(c *webrtc.ICECandidate) {
	m := &signaling.ICE{Ref: t.ref}
	if c != nil {
		init := c.ToJSON()
		m.Candidate, m.SDPMLineIndex = init.Candidate, init.SDPMLineIndex
		if init.SDPMid != nil {
			m.SDPMid = *init.SDPMid
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.started {
		t.pending = append(t.pending, m)
		return
	}
	t.s.Reply("", m)
}

// start sends what was gathered so far and every later candidate as it comes.
func (t *outTrickle) start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.started = true
	for _, m := range t.pending {
		t.s.Reply("", m)
	}
	t.pending = nil
}
