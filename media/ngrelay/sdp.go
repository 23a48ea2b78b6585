package ngrelay

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// AudioSDP is the SDP of a G.711 (PCMU) endpoint at addr: what the load
// generator offers and answers with.
func AudioSDP(addr netip.AddrPort, sessionID int) string {
	ip := addr.Addr()
	fam := "IP4"
	if ip.Is6() && !ip.Is4In6() {
		fam = "IP6"
	}
	return fmt.Sprintf("v=0\r\no=- %d 1 IN %s %s\r\ns=-\r\nc=IN %s %s\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n",
		sessionID, fam, ip, fam, ip, addr.Port())
}

// SDPAudioAddr returns the address and port an SDP's first audio stream
// receives on: the m=audio port with the media-level c= address, or the
// session-level one (RFC 4566 §5.7).
func SDPAudioAddr(sdp string) (netip.AddrPort, error) {
	var session, media netip.Addr
	port := -1
	inAudio := false
lines:
	for line := range strings.Lines(sdp) {
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "m="):
			if port >= 0 {
				break lines // only the first audio stream
			}
			f := strings.Fields(line[2:])
			inAudio = len(f) >= 2 && f[0] == "audio"
			if inAudio {
				p, err := strconv.ParseUint(f[1], 10, 16)
				if err != nil {
					return netip.AddrPort{}, fmt.Errorf("ngrelay: SDP m= port %q: %w", f[1], err)
				}
				port = int(p)
			}
		case strings.HasPrefix(line, "c="):
			f := strings.Fields(line[2:])
			if len(f) < 3 {
				return netip.AddrPort{}, fmt.Errorf("ngrelay: SDP c= line %q", line)
			}
			a, err := netip.ParseAddr(strings.Split(f[2], "/")[0])
			if err != nil {
				return netip.AddrPort{}, fmt.Errorf("ngrelay: SDP c= address: %w", err)
			}
			if port < 0 && !inAudio {
				session = a
			} else if inAudio && !media.IsValid() {
				media = a
			}
		}
	}
	if port <= 0 {
		return netip.AddrPort{}, fmt.Errorf("ngrelay: SDP has no audio stream with a port")
	}
	if media.IsValid() {
		return netip.AddrPortFrom(media, uint16(port)), nil
	}
	if session.IsValid() {
		return netip.AddrPortFrom(session, uint16(port)), nil
	}
	return netip.AddrPort{}, fmt.Errorf("ngrelay: SDP has no c= address")
}

// rewriteSDP points every c= line and the first m=audio port at addr.
func rewriteSDP(sdp string, addr netip.AddrPort) string {
	var b strings.Builder
	fam := "IP4"
	if addr.Addr().Is6() {
		fam = "IP6"
	}
	done := false
	for line := range strings.Lines(sdp) {
		body := strings.TrimRight(line, "\r\n")
		eol := line[len(body):]
		switch {
		case strings.HasPrefix(body, "c="):
			body = fmt.Sprintf("c=IN %s %s", fam, addr.Addr())
		case strings.HasPrefix(body, "m=audio ") && !done:
			f := strings.Fields(body[2:])
			f[1] = strconv.Itoa(int(addr.Port()))
			body = "m=" + strings.Join(f, " ")
			done = true
		}
		b.WriteString(body)
		b.WriteString(eol)
	}
	return b.String()
}
