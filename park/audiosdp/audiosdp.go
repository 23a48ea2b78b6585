// Package audiosdp is the SDP offer/answer (RFC 3264) for the one thing
// Parkway negotiates: a single G.711 audio stream over plain RTP/AVP.
// The park service, the test phones and the gateway's SIP leg share it so
// they agree on what an offer looks like and which codec wins.
package audiosdp

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/parkway/parkway/media/g711"
	"github.com/parkway/parkway/media/sdpdir"
)

// Description is the part of an SDP body Parkway cares about.
type Description struct {
	Addr     *net.UDPAddr // where to send RTP (c= and m= port)
	Payloads []uint8      // G.711 payload types offered, in preference order
	Dir      string       // sendrecv, sendonly, recvonly or inactive
}

// ErrNoCodec means the offer held no G.711 payload type: answer 488
// (RFC 3264 §6: reject an offer we cannot accept).
var ErrNoCodec = errors.New("no G.711 payload type offered")

// Parse reads the first audio stream of an SDP body.
func Parse(body []byte) (Description, error) {
	var s sdp.SessionDescription
	if err := s.Unmarshal(body); err != nil {
		return Description{}, fmt.Errorf("parse sdp: %w", err)
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
			return Description{}, errors.New("parse sdp: audio stream without c= address")
		}
		ip := net.ParseIP(ci.Address.Address)
		if ip == nil {
			return Description{}, fmt.Errorf("parse sdp: c= address %q is not an IP", ci.Address.Address)
		}
		port := m.MediaName.Port.Value
		if port < 0 || port > 65535 {
			return Description{}, fmt.Errorf("parse sdp: port %d", port)
		}
		d := Description{Addr: &net.UDPAddr{IP: ip, Port: port}, Dir: "sendrecv"}
		for _, f := range m.MediaName.Formats {
			pt, err := strconv.Atoi(f)
			if err == nil && (pt == g711.PayloadPCMU || pt == g711.PayloadPCMA) {
				d.Payloads = append(d.Payloads, uint8(pt))
			}
		}
		for _, a := range m.Attributes {
			if _, ok := sdpdir.Parse(a.Key); ok {
				d.Dir = a.Key
			}
		}
		if len(d.Payloads) == 0 {
			return d, ErrNoCodec
		}
		return d, nil
	}
	return Description{}, errors.New("parse sdp: no audio stream")
}

// Choose picks the payload type to send: the first of the offer's that we
// support (RFC 3264 §6.1, the answerer keeps the offerer's preference).
func (d Description) Choose() uint8 {
	if len(d.Payloads) == 0 {
		return g711.PayloadPCMU
	}
	return d.Payloads[0]
}

// Build renders an SDP body announcing RTP at addr with the given payload
// types (an offer lists both, an answer only the chosen one).
func Build(addr *net.UDPAddr, sessionID uint64, payloads ...uint8) []byte {
	if len(payloads) == 0 {
		payloads = []uint8{g711.PayloadPCMU, g711.PayloadPCMA}
	}
	var b strings.Builder
	ip := addr.IP.String()
	fmt.Fprintf(&b, "v=0\r\no=parkway %d 1 IN IP4 %s\r\ns=parkway\r\nc=IN IP4 %s\r\nt=0 0\r\n", sessionID, ip, ip)
	fmt.Fprintf(&b, "m=audio %d RTP/AVP", addr.Port)
	for _, pt := range payloads {
		fmt.Fprintf(&b, " %d", pt)
	}
	b.WriteString("\r\n")
	for _, pt := range payloads {
		switch pt {
		case g711.PayloadPCMU:
			b.WriteString("a=rtpmap:0 PCMU/8000\r\n")
		case g711.PayloadPCMA:
			b.WriteString("a=rtpmap:8 PCMA/8000\r\n")
		}
	}
	b.WriteString("a=ptime:20\r\na=sendrecv\r\n")
	return []byte(b.String())
}
