package media

import (
	"strings"

	"github.com/pion/webrtc/v4"
)

// Codec is a G.711 law. Its value is the static RTP/AVP payload type
// (RFC 3551 §6, table 4), which SIP peers use without an rtpmap.
type Codec uint8

const (
	// PCMU is G.711 µ-law, payload type 0 (RFC 3551 §4.5.14).
	PCMU Codec = 0
	// PCMA is G.711 A-law, payload type 8 (RFC 3551 §4.5.14).
	PCMA Codec = 8
)

// MimeTypeTelephoneEvent is RFC 4733's named telephone events (DTMF).
const MimeTypeTelephoneEvent = "audio/telephone-event"

// EventPayloadType is the payload type the gateway offers for
// telephone-event at 8000 Hz; a browser's offer may use another and pion
// then answers with the browser's.
const EventPayloadType = 101

// clockRate is the RTP clock of every codec the bridge carries: G.711 and
// telephone-event at 8000 Hz share it, so one timestamp offset serves both
// (RFC 4733 §2.1: events use the audio stream's SSRC and clock).
const clockRate = 8000

func (c Codec) String() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	}
	return "unknown"
}

// MimeType is the codec's WebRTC MIME type.
func (c Codec) MimeType() string {
	if c == PCMA {
		return webrtc.MimeTypePCMA
	}
	return webrtc.MimeTypePCMU
}

// Valid reports whether c is one of the two G.711 laws.
func (c Codec) Valid() bool { return c == PCMU || c == PCMA }

func codecParameters(c Codec) webrtc.RTPCodecParameters {
	return webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: c.MimeType(), ClockRate: clockRate, Channels: 1},
		PayloadType:        webrtc.PayloadType(c),
	}
}

func eventParameters() webrtc.RTPCodecParameters {
	return webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: MimeTypeTelephoneEvent, ClockRate: clockRate, Channels: 1, SDPFmtpLine: "0-16"},
		PayloadType:        EventPayloadType,
	}
}

// codecOf maps a negotiated codec to a G.711 law.
func codecOf(p webrtc.RTPCodecParameters) (Codec, bool) {
	switch {
	case strings.EqualFold(p.MimeType, webrtc.MimeTypePCMU):
		return PCMU, true
	case strings.EqualFold(p.MimeType, webrtc.MimeTypePCMA):
		return PCMA, true
	}
	return 0, false
}

func isEvent(p webrtc.RTPCodecParameters) bool {
	return strings.EqualFold(p.MimeType, MimeTypeTelephoneEvent) && p.ClockRate == clockRate
}

// negotiated is what one binding agreed on: the G.711 payload type and
// law, and the telephone-event payload type (0 when events were not
// negotiated; 0 is never a dynamic payload type).
type negotiated struct {
	codec   Codec
	audioPT uint8
	eventPT uint8
}

// choose picks the audio codec from negotiated parameters, preferring the
// law in prefer when both are present.
func choose(params []webrtc.RTPCodecParameters, prefer Codec, hasPrefer bool) (negotiated, webrtc.RTPCodecParameters, bool) {
	var n negotiated
	var chosen webrtc.RTPCodecParameters
	found := false
	for _, p := range params {
		if c, ok := codecOf(p); ok && p.ClockRate == clockRate {
			if !found || (hasPrefer && c == prefer && n.codec != prefer) {
				n.codec, n.audioPT, chosen, found = c, uint8(p.PayloadType), p, true
			}
		}
		if isEvent(p) && n.eventPT == 0 {
			n.eventPT = uint8(p.PayloadType)
		}
	}
	return n, chosen, found
}
