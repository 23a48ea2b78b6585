package media

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Options configure a Factory. The zero value (or nil) gathers host
// candidates on every interface over UDP4, which suits a developer machine;
// tests set IPs to loopback, deployments add NAT1To1IPs.
type Options struct {
	// IPs, when set, limits ICE host candidates to these addresses
	// (e.g. 127.0.0.1 in tests). Loopback is included only when listed.
	IPs []netip.Addr
	// Interfaces, when set, limits ICE gathering to these interface names.
	Interfaces []string
	// NAT1To1IPs are public addresses announced instead of the host's
	// private ones, for a gateway behind a static 1:1 NAT (cloud VMs).
	NAT1To1IPs []string
	// PortMin and PortMax bound the ephemeral UDP ports ICE uses, so a
	// firewall can open a known range. Both zero: any port.
	PortMin, PortMax uint16
	// LoggerFactory receives pion's logs; nil uses pion's default.
	LoggerFactory logging.LoggerFactory
}

// Factory builds gateway-side PeerConnections that speak only G.711.
// It is safe for concurrent use and shared by all calls.
type Factory struct {
	api  *webrtc.API
	legs legTally // every leg made, for Totals
}

// NewFactory validates opts and builds the pion API.
//
// Interceptors: only RTCP sender and receiver reports (RFC 3550 §6.4).
// They give the browser's getStats() round-trip time, loss and jitter and
// keep the stream's RTCP alive. NACK is left out on purpose: nobody
// retransmits 20 ms of audio that is late by a round trip (browsers do not
// offer nack for audio), and the NACK responder would buffer every sent
// packet per call. TWCC and simulcast headers are for video.
func NewFactory(opts *Options) (*Factory, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	me := &webrtc.MediaEngine{}
	for _, p := range []webrtc.RTPCodecParameters{codecParameters(PCMU), codecParameters(PCMA), eventParameters()} {
		if err := me.RegisterCodec(p, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("media: register %s: %w", p.MimeType, err)
		}
	}
	reg := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, fmt.Errorf("media: rtcp reports: %w", err)
	}

	se := webrtc.SettingEngine{}
	if o.LoggerFactory != nil {
		se.LoggerFactory = o.LoggerFactory
	}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	// mDNS candidates hide the address behind a .local name; the gateway's
	// addresses are not private and browsers resolve nothing useful for us.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if len(o.IPs) > 0 {
		allowed := make(map[netip.Addr]bool, len(o.IPs))
		loop := false
		for _, ip := range o.IPs {
			if !ip.IsValid() {
				return nil, fmt.Errorf("media: Options.IPs: invalid address %v", ip)
			}
			allowed[ip.Unmap()] = true
			loop = loop || ip.IsLoopback()
		}
		se.SetIPFilter(func(ip net.IP) bool {
			a, ok := netip.AddrFromSlice(ip)
			return ok && allowed[a.Unmap()]
		})
		// pion skips loopback candidates unless asked; tests run on
		// loopback only (ARCHITECTURE.md §5).
		se.SetIncludeLoopbackCandidate(loop)
	}
	if len(o.Interfaces) > 0 {
		names := append([]string(nil), o.Interfaces...)
		se.SetInterfaceFilter(func(name string) bool {
			for _, n := range names {
				if n == name {
					return true
				}
			}
			return false
		})
	}
	if len(o.NAT1To1IPs) > 0 {
		for _, s := range o.NAT1To1IPs {
			if _, err := netip.ParseAddr(s); err != nil {
				return nil, fmt.Errorf("media: Options.NAT1To1IPs: %q: %w", s, err)
			}
		}
		se.SetNAT1To1IPs(append([]string(nil), o.NAT1To1IPs...), webrtc.ICECandidateTypeHost)
	}
	if o.PortMin != 0 || o.PortMax != 0 {
		if err := se.SetEphemeralUDPPortRange(o.PortMin, o.PortMax); err != nil {
			return nil, fmt.Errorf("media: Options.PortMin/PortMax %d-%d: %w", o.PortMin, o.PortMax, err)
		}
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	return &Factory{api: api}, nil
}

// API exposes the pion API, e.g. for a PeerConnection the caller wires by
// hand. Prefer NewLeg.
func (f *Factory) API() *webrtc.API { return f.api }

// OfferCodecs returns the G.711 laws an SDP offer's first audio section
// carries, in the offer's order of preference. An offer without them fails
// with ErrNoG711, so the caller can refuse it before any PeerConnection
// state is touched.
func OfferCodecs(offer string) ([]Codec, error) {
	laws, _, err := offerAudio(offer)
	return laws, err
}

// offerAudio also returns the offer's telephone-event/8000 payload type
// (0: none). The answer must reuse the offerer's payload type: browsers
// send events with the number they offered (RFC 3264 §6.1).
func offerAudio(offer string) (laws []Codec, eventPT uint8, err error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return nil, 0, fmt.Errorf("media: parse offer: %w", err)
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "audio" || m.MediaName.Port.Value == 0 {
			continue
		}
		for _, f := range m.MediaName.Formats {
			if c, ok := formatCodec(m, f); ok {
				laws = append(laws, c)
			} else if pt, ok := eventFormat(m, f); ok && eventPT == 0 {
				eventPT = pt
			}
		}
		if len(laws) == 0 {
			return nil, 0, ErrNoG711
		}
		return laws, eventPT, nil
	}
	return nil, 0, ErrNoG711
}

func eventFormat(m *sdp.MediaDescription, format string) (uint8, bool) {
	for _, a := range m.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, enc, ok := strings.Cut(a.Value, " ")
		if ok && pt == format && strings.HasPrefix(strings.ToLower(enc), "telephone-event/8000") {
			n, err := strconv.ParseUint(pt, 10, 7)
			return uint8(n), err == nil && n != 0
		}
	}
	return 0, false
}

// formatCodec resolves one m= line format: by rtpmap when present, else by
// the static payload types of RFC 3551 §6 (0 and 8 need no rtpmap).
func formatCodec(m *sdp.MediaDescription, format string) (Codec, bool) {
	for _, a := range m.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, enc, ok := strings.Cut(a.Value, " ")
		if !ok || pt != format {
			continue
		}
		switch {
		case strings.HasPrefix(strings.ToUpper(enc), "PCMU/8000"):
			return PCMU, true
		case strings.HasPrefix(strings.ToUpper(enc), "PCMA/8000"):
			return PCMA, true
		}
		return 0, false
	}
	switch format {
	case "0":
		return PCMU, true
	case "8":
		return PCMA, true
	}
	return 0, false
}
