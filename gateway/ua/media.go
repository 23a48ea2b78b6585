package ua

import (
	"net/netip"

	"github.com/parkway/parkway/media/g711"
	"github.com/parkway/parkway/sip/audiosdp"
)

// Payload types Parkway negotiates: G.711 only, so the bridge never transcodes, and
// RFC 4733 telephone-events for DTMF.
const (
	PayloadPCMU      uint8 = g711.PayloadPCMU // RFC 3551 §4.5.14
	PayloadPCMA      uint8 = g711.PayloadPCMA // RFC 3551 §4.5.14
	PayloadEventsDef uint8 = 101              // the dynamic type we offer for telephone-event
)

// MediaLeg is one call's RTP endpoint on the gateway — the media bridge's SIP side
// (package media implements it). The user agent never touches RTP: it puts LocalRTP
// in its SDP and tells the leg where the far end is and which way media may flow.
// One leg serves a call for its whole life, across transfers, park and retrieve, so
// the browser never renegotiates (issue 4 item 2).
type MediaLeg interface {
	// LocalRTP is the address announced in our SDP (c= and m=).
	LocalRTP() netip.AddrPort
	// SetRemote points the leg at the far end's RTP address with the G.711 payload
	// type negotiated (0 PCMU, 8 PCMA). Called on answer and whenever the far end or
	// its address changes (re-INVITE, REFER followed, INVITE with Replaces).
	SetRemote(addr netip.AddrPort, payloadType uint8) error
	// SetDirection gates the leg as negotiated, from the leg's point of view.
	SetDirection(d Direction)
}

// CodecLimiter is an optional MediaLeg interface. A leg whose G.711 law is already
// fixed — the browser negotiated PCMA before the call was placed — lists the payload
// types it can carry, and only those are offered and accepted, so the bridge never has
// to transcode (issue 4 item 2).
type CodecLimiter interface {
	Codecs() []uint8
}

// EventPayloadSetter is an optional MediaLeg interface, told the RFC 4733
// telephone-event payload type the far end negotiated (0 for none), for DTMF. It is
// called before the SetRemote it belongs to, so an adapter over media.Bridge can pass
// both in one media.Remote.
type EventPayloadSetter interface {
	SetEventPayloadType(pt uint8)
}

// legCodecs is what leg can carry, in its order of preference.
func legCodecs(leg MediaLeg) []uint8 {
	if cl, ok := leg.(CodecLimiter); ok {
		var out []uint8
		for _, pt := range cl.Codecs() {
			if pt == PayloadPCMU || pt == PayloadPCMA {
				out = append(out, pt)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return []uint8{PayloadPCMU, PayloadPCMA}
}

// pickCodec is the first of the far end's types the leg can carry (RFC 3264 §6.1: the
// answerer keeps the offerer's order); ok is false when there is none.
func pickCodec(offered, ours []uint8) (uint8, bool) {
	for _, o := range offered {
		for _, p := range ours {
			if o == p {
				return o, true
			}
		}
	}
	return 0, false
}

// Direction is an SDP media direction (RFC 4566 §6, RFC 3264 §6.1) seen from our side,
// with its offer/answer rules (Answer, And); it is the same type as package media's
// Direction.
type Direction = audiosdp.Direction

// The four SDP directions.
const (
	SendRecv = audiosdp.SendRecv
	SendOnly = audiosdp.SendOnly
	RecvOnly = audiosdp.RecvOnly
	Inactive = audiosdp.Inactive
)
