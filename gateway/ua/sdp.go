package ua

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/parkway/parkway/media/sdpdir"
)

// Payload types Parkway negotiates: G.711 only, so the bridge never transcodes, and
// RFC 4733 telephone-events for DTMF.
const (
	PayloadPCMU      uint8 = 0   // RFC 3551 §4.5.14
	PayloadPCMA      uint8 = 8   // RFC 3551 §4.5.14
	PayloadEventsDef uint8 = 101 // the dynamic type we offer for telephone-event
)

// remoteMedia is what we learn from the far end's SDP.
type remoteMedia struct {
	addr     netip.AddrPort
	payloads []uint8 // G.711 types, in the far end's preference order
	events   uint8   // telephone-event payload type, 0 if none
	dir      Direction
}

// codec is the payload type we send: the first G.711 type of theirs
// (RFC 3264 §6.1: the answerer keeps the offerer's order).
func (r remoteMedia) codec() uint8 {
	if len(r.payloads) == 0 {
		return PayloadPCMU
	}
	return r.payloads[0]
}

// parseSDP reads the first audio stream of an SDP body (RFC 4566). A stream with port 0
// is rejected (RFC 3264 §6), one without G.711 fails with ErrNoCodec. A c= of 0.0.0.0
// is the RFC 2543 way of holding (RFC 3264 §8.4): we read it as sendonly.
func parseSDP(body []byte) (remoteMedia, error) {
	var s sdp.SessionDescription
	if err := s.Unmarshal(body); err != nil {
		return remoteMedia{}, fmt.Errorf("sdp: %w", err)
	}
	sessDir := SendRecv
	for _, a := range s.Attributes {
		if d, ok := sdpdir.Parse(a.Key); ok {
			sessDir = d
		}
	}
	for _, m := range s.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		ci := m.ConnectionInformation
		if ci == nil {
			ci = s.ConnectionInformation
		}
		if ci == nil || ci.Address == nil {
			return remoteMedia{}, errors.New("sdp: audio stream without c= address")
		}
		ip, err := netip.ParseAddr(ci.Address.Address)
		if err != nil {
			return remoteMedia{}, fmt.Errorf("sdp: c= %q is not an IP address", ci.Address.Address)
		}
		port := m.MediaName.Port.Value
		if port <= 0 || port > 65535 {
			return remoteMedia{}, fmt.Errorf("sdp: audio port %d", port)
		}
		r := remoteMedia{addr: netip.AddrPortFrom(ip.Unmap(), uint16(port)), dir: sessDir}
		events := map[uint8]bool{}
		for _, a := range m.Attributes {
			if d, ok := sdpdir.Parse(a.Key); ok {
				r.dir = d
			}
			if a.Key == "rtpmap" {
				pt, enc, _ := strings.Cut(a.Value, " ")
				if n, err := strconv.Atoi(pt); err == nil && strings.HasPrefix(strings.ToLower(enc), "telephone-event/8000") {
					events[uint8(n)] = true
				}
			}
		}
		for _, f := range m.MediaName.Formats {
			n, err := strconv.Atoi(f)
			if err != nil || n < 0 || n > 127 {
				continue
			}
			switch pt := uint8(n); {
			case pt == PayloadPCMU || pt == PayloadPCMA:
				r.payloads = append(r.payloads, pt)
			case events[pt] && r.events == 0:
				r.events = pt
			}
		}
		if ip.IsUnspecified() && r.dir == SendRecv {
			r.dir = SendOnly
		}
		if len(r.payloads) == 0 {
			return r, ErrNoCodec
		}
		return r, nil
	}
	return remoteMedia{}, errors.New("sdp: no audio stream")
}

// localMedia is our side of the session: what buildSDP renders. version goes up by
// one with every new offer or answer that changes something (RFC 3264 §8).
type localMedia struct {
	addr     netip.AddrPort
	id       uint64
	version  uint64
	payloads []uint8 // an offer lists PCMU and PCMA; an answer the chosen one
	events   uint8   // 0: no telephone-event
	dir      Direction
}

// buildSDP renders l as an SDP body with pion/sdp.
func buildSDP(l localMedia) []byte {
	ip := l.addr.Addr()
	addrType := "IP4"
	if ip.Is6() && !ip.Is4In6() {
		addrType = "IP6"
	}
	host := ip.Unmap().String()
	formats := make([]string, 0, len(l.payloads)+1)
	attrs := make([]sdp.Attribute, 0, 6)
	for _, pt := range l.payloads {
		formats = append(formats, strconv.Itoa(int(pt)))
		name := "PCMU"
		if pt == PayloadPCMA {
			name = "PCMA"
		}
		attrs = append(attrs, sdp.NewAttribute("rtpmap", fmt.Sprintf("%d %s/8000", pt, name)))
	}
	if l.events != 0 {
		ev := strconv.Itoa(int(l.events))
		formats = append(formats, ev)
		attrs = append(attrs,
			sdp.NewAttribute("rtpmap", ev+" telephone-event/8000"),
			sdp.NewAttribute("fmtp", ev+" 0-16")) // RFC 4733 §7.1.1: the DTMF events
	}
	attrs = append(attrs, sdp.NewAttribute("ptime", "20"), sdp.NewPropertyAttribute(l.dir.String()))
	s := sdp.SessionDescription{
		Version: 0,
		Origin: sdp.Origin{Username: "parkway", SessionID: l.id, SessionVersion: l.version,
			NetworkType: "IN", AddressType: addrType, UnicastAddress: host},
		SessionName:           "parkway",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: host}},
		TimeDescriptions:      []sdp.TimeDescription{{Timing: sdp.Timing{}}},
		MediaDescriptions: []*sdp.MediaDescription{{
			MediaName: sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: int(l.addr.Port())},
				Protos: []string{"RTP", "AVP"}, Formats: formats},
			Attributes: attrs,
		}},
	}
	b, err := s.Marshal()
	if err != nil {
		panic("ua: marshal sdp: " + err.Error()) // only fails on a nil field we always set
	}
	return b
}
