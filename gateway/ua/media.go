package ua

import "net/netip"

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

// Direction is an SDP media direction (RFC 4566 §6, RFC 3264 §6.1) seen from our side.
// Its values are in the same order as package media's Direction.
type Direction uint32

// The four SDP directions.
const (
	SendRecv Direction = iota
	SendOnly
	RecvOnly
	Inactive
)

func (d Direction) String() string {
	switch d {
	case SendRecv:
		return "sendrecv"
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	}
	return "unknown"
}

// answer is the direction an answerer takes for an offer's (RFC 3264 §6.1): the
// mirror image, limited by what we want (wantRecv false when we hold). With both true
// it is the plain mirror, which is also our direction after an answer to our offer.
func (d Direction) answer(wantSend, wantRecv bool) Direction {
	var send, recv bool
	switch d {
	case SendRecv:
		send, recv = true, true
	case SendOnly:
		recv = true
	case RecvOnly:
		send = true
	}
	send, recv = send && wantSend, recv && wantRecv
	switch {
	case send && recv:
		return SendRecv
	case send:
		return SendOnly
	case recv:
		return RecvOnly
	}
	return Inactive
}

func (d Direction) sends() bool    { return d == SendRecv || d == SendOnly }
func (d Direction) receives() bool { return d == SendRecv || d == RecvOnly }

// and is what both d and o allow: our offered direction limits what an answer can
// give us, even when a peer answers a=sendonly with a=sendrecv (RFC 3264 §6.1 says it
// must not; some phones do).
func (d Direction) and(o Direction) Direction {
	send, recv := d.sends() && o.sends(), d.receives() && o.receives()
	switch {
	case send && recv:
		return SendRecv
	case send:
		return SendOnly
	case recv:
		return RecvOnly
	}
	return Inactive
}

func parseDirection(s string) (Direction, bool) {
	switch s {
	case "sendrecv":
		return SendRecv, true
	case "sendonly":
		return SendOnly, true
	case "recvonly":
		return RecvOnly, true
	case "inactive":
		return Inactive, true
	}
	return 0, false
}
