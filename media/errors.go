package media

import "errors"

var (
	// ErrNoG711 is returned for a browser offer whose audio offers neither
	// PCMU nor PCMA: Parkway never transcodes, so such a call cannot be
	// bridged to SIP. The signaling layer should answer it as a refused
	// offer (the SIP analog is 488 Not Acceptable Here, RFC 3261 §21.4.26).
	ErrNoG711 = errors.New("media: offer has no G.711 (PCMU/PCMA) audio")

	// ErrCodecMismatch is returned by Bridge.SetRemote when the SIP peer's
	// G.711 law differs from the one negotiated with the browser. Relaying
	// would turn µ-law bytes into A-law noise; the caller must renegotiate
	// one of the sides instead.
	ErrCodecMismatch = errors.New("media: SIP and browser sides use different G.711 laws")

	// ErrClosed is returned by operations on a closed Bridge or Leg.
	ErrClosed = errors.New("media: closed")
)
