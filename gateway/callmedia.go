package gateway

import (
	"fmt"
	"net/netip"
	"sync"

	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/media"
)

// callMedia lets a media.Leg's Bridge serve as a call's ua.MediaLeg: the user agent
// negotiates SIP and tells the bridge where the far end is, the bridge relays RTP. It
// lives here, not in ua, so the SIP user agent stays free of pion; and not in media,
// so the relay does not depend on the SIP stack's vocabulary.
//
// The ua calls it from the call's loop only, but SetEventPayloadType and SetRemote
// arrive as two calls that belong together, so mu keeps the event type they share.
type callMedia struct {
	br    *media.Bridge
	entry *callEntry // the gateway's side of the call, found by this leg (calls.go)

	mu      sync.Mutex
	eventPT uint8 // the far end's telephone-event type, for the next SetRemote
}

var (
	_ ua.MediaLeg           = (*callMedia)(nil)
	_ ua.CodecLimiter       = (*callMedia)(nil)
	_ ua.EventPayloadSetter = (*callMedia)(nil)
)

func newCallMedia(leg *media.Leg) *callMedia { return &callMedia{br: leg.Bridge()} }

// LocalRTP is the bridge's SIP-side socket, announced in the SDP toward the pool.
func (m *callMedia) LocalRTP() netip.AddrPort { return m.br.LocalAddr() }

// SetRemote points the bridge at the far end. The payload type is G.711's static one
// (RFC 3551 §6), which is exactly media.Codec's value.
func (m *callMedia) SetRemote(addr netip.AddrPort, pt uint8) error {
	c := media.Codec(pt)
	if !c.Valid() {
		return fmt.Errorf("gateway: call media: payload type %d is not G.711", pt)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.br.SetRemote(media.Remote{Addr: addr, Codec: c, EventPT: m.eventPT})
}

// SetEventPayloadType records the far end's RFC 4733 type. The ua calls it before the
// SetRemote it belongs to; when the far end changes only its event type (a re-INVITE
// with the same address and law) no SetRemote follows, so the current remote is
// updated here.
func (m *callMedia) SetEventPayloadType(pt uint8) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.eventPT = pt
	if r, _, ok := m.br.Remote(); ok && r.EventPT != pt {
		r.EventPT = pt
		_ = m.br.SetRemote(r) // the same address and law it already took
	}
}

// SetDirection gates the bridge. Both types read an SDP direction from the gateway's
// side toward the SIP peer; they are converted by name, not by value, so a reordering
// of either cannot silently swap hold for resume.
func (m *callMedia) SetDirection(d ua.Direction) {
	md := media.SendRecv
	switch d {
	case ua.SendOnly:
		md = media.SendOnly
	case ua.RecvOnly:
		md = media.RecvOnly
	case ua.Inactive:
		md = media.Inactive
	}
	m.br.SetDirection(md)
}

// Codecs limits the SIP side to the law the browser negotiated: the bridge never
// transcodes, so offering the other law could only end in media.ErrCodecMismatch.
// Before the browser's answer nothing is fixed and the ua offers both.
func (m *callMedia) Codecs() []uint8 {
	if c, ok := m.br.Codec(); ok {
		return []uint8{uint8(c)}
	}
	return nil
}
