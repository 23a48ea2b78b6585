// Package audiosdp is the SDP offer/answer (RFC 3264) for the one thing
// Parkway negotiates with SIP peers: a single G.711 audio stream over plain
// RTP/AVP, with RFC 4733 telephone-events for DTMF, and the media direction
// attribute with its offer/answer rules (Direction).
//
// It is one of Parkway's shared SIP helpers (see sip/README.md). The park
// service, the gateway's SIP user agent (gateway/ua), the test phones
// (siptest) and the media bridge (media, for Direction) share it, so they
// agree on what an offer looks like and which codec wins. Where the park
// service and the user agent read offers differently, Rules says so.
package audiosdp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/parkway/parkway/media/g711"
)

// Description is the part of an SDP body Parkway cares about: its first
// audio stream.
type Description struct {
	Addr     netip.AddrPort // where to send RTP (c= and m= port); an IPv4-mapped address is unmapped
	Payloads []uint8        // G.711 payload types offered, in the offerer's preference order
	Events   uint8          // RFC 4733 telephone-event payload type, 0 if none
	Dir      Direction      // the stream's direction as its sender states it
}

// ErrNoCodec means the offer held no G.711 payload type: answer 488
// (RFC 3264 §6: reject an offer we cannot accept).
var ErrNoCodec = errors.New("no G.711 offered")

// Rules are the choices where Parkway's parties read an SDP body differently.
// The zero value is RFC 3264's reading, the user agent's.
type Rules struct {
	// AcceptPortZero takes an audio stream with port 0 — which RFC 3264 §6
	// makes a rejected stream — as a stream to send to. The park service
	// parks such a caller (its music goes nowhere) rather than refusing it.
	AcceptPortZero bool
}

// Parse reads the first audio stream of an SDP body with the zero Rules.
func Parse(body []byte) (Description, error) { return Rules{}.Parse(body) }

// Parse reads the first audio stream of an SDP body (RFC 4566). A stream
// without G.711 fails with ErrNoCodec (the Description is still filled in).
// The direction is the stream's attribute, else the session's, else
// sendrecv; a c= of 0.0.0.0 with no other direction is the RFC 2543 way of
// holding (RFC 3264 §8.4) and reads as sendonly.
func (rules Rules) Parse(body []byte) (Description, error) {
	var s sdp.SessionDescription
	if err := s.Unmarshal(body); err != nil {
		return Description{}, fmt.Errorf("sdp: %w", err)
	}
	sessDir := SendRecv
	for _, a := range s.Attributes {
		if d, ok := ParseDirection(a.Key); ok {
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
			return Description{}, errors.New("sdp: audio stream without c= address")
		}
		ip, err := netip.ParseAddr(ci.Address.Address)
		if err != nil {
			return Description{}, fmt.Errorf("sdp: c= %q is not an IP address", ci.Address.Address)
		}
		port := m.MediaName.Port.Value
		if port < 0 || port > 65535 || (port == 0 && !rules.AcceptPortZero) {
			return Description{}, fmt.Errorf("sdp: audio port %d", port)
		}
		d := Description{Addr: netip.AddrPortFrom(ip.Unmap(), uint16(port)), Dir: sessDir}
		events := map[uint8]bool{}
		for _, a := range m.Attributes {
			if dir, ok := ParseDirection(a.Key); ok {
				d.Dir = dir
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
			case pt == g711.PayloadPCMU || pt == g711.PayloadPCMA:
				d.Payloads = append(d.Payloads, pt)
			case events[pt] && d.Events == 0:
				d.Events = pt
			}
		}
		if ip.IsUnspecified() && d.Dir == SendRecv {
			d.Dir = SendOnly
		}
		if len(d.Payloads) == 0 {
			return d, ErrNoCodec
		}
		return d, nil
	}
	return Description{}, errors.New("sdp: no audio stream")
}

// Codec is the payload type to send: the first of the offer's G.711 types
// (RFC 3264 §6.1, the answerer keeps the offerer's preference); PCMU when
// there is none.
func (d Description) Codec() uint8 {
	if len(d.Payloads) == 0 {
		return g711.PayloadPCMU
	}
	return d.Payloads[0]
}

// UDPAddr is Addr for the net package's UDP calls.
func (d Description) UDPAddr() *net.UDPAddr { return net.UDPAddrFromAddrPort(d.Addr) }

// Local is our side of a session, what Marshal renders. Version goes up by
// one with every new offer or answer that changes something (RFC 3264 §8).
type Local struct {
	Addr      netip.AddrPort // where we receive RTP (c= and m=)
	SessionID uint64         // o= session id
	Version   uint64         // o= session version
	Payloads  []uint8        // an offer lists PCMU and PCMA; an answer the chosen one
	Events    uint8          // telephone-event payload type, 0 for none
	Dir       Direction
}

// Marshal renders l as an SDP body (with pion/sdp).
func (l Local) Marshal() []byte {
	ip := l.Addr.Addr()
	addrType := "IP4"
	if ip.Is6() && !ip.Is4In6() {
		addrType = "IP6"
	}
	host := ip.Unmap().String()
	formats := make([]string, 0, len(l.Payloads)+1)
	attrs := make([]sdp.Attribute, 0, 6)
	for _, pt := range l.Payloads {
		formats = append(formats, strconv.Itoa(int(pt)))
		name := "PCMU"
		if pt == g711.PayloadPCMA {
			name = "PCMA"
		}
		attrs = append(attrs, sdp.NewAttribute("rtpmap", fmt.Sprintf("%d %s/8000", pt, name)))
	}
	if l.Events != 0 {
		ev := strconv.Itoa(int(l.Events))
		formats = append(formats, ev)
		attrs = append(attrs,
			sdp.NewAttribute("rtpmap", ev+" telephone-event/8000"),
			sdp.NewAttribute("fmtp", ev+" 0-16")) // RFC 4733 §7.1.1: the DTMF events
	}
	attrs = append(attrs, sdp.NewAttribute("ptime", "20"), sdp.NewPropertyAttribute(l.Dir.String()))
	s := sdp.SessionDescription{
		Version: 0,
		Origin: sdp.Origin{Username: "parkway", SessionID: l.SessionID, SessionVersion: l.Version,
			NetworkType: "IN", AddressType: addrType, UnicastAddress: host},
		SessionName:           "parkway",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: host}},
		TimeDescriptions:      []sdp.TimeDescription{{Timing: sdp.Timing{}}},
		MediaDescriptions: []*sdp.MediaDescription{{
			MediaName: sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: int(l.Addr.Port())},
				Protos: []string{"RTP", "AVP"}, Formats: formats},
			Attributes: attrs,
		}},
	}
	b, err := s.Marshal()
	if err != nil {
		panic("audiosdp: marshal: " + err.Error()) // only fails on a nil field we always set
	}
	return b
}

// Build renders a first offer or answer of version 1, sendrecv, announcing RTP at
// addr with the given payload types (an offer lists both G.711 laws, the default,
// an answer only the chosen one) and no telephone-event.
func Build(addr *net.UDPAddr, sessionID uint64, payloads ...uint8) []byte {
	if len(payloads) == 0 {
		payloads = []uint8{g711.PayloadPCMU, g711.PayloadPCMA}
	}
	return Local{Addr: addr.AddrPort(), SessionID: sessionID, Version: 1, Payloads: payloads}.Marshal()
}
