package ua

import (
	"errors"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/sip/audiosdp"
)

// readOffer reads the SDP offer of an INVITE or re-INVITE. A bad one is answered
// here — 488 when it has no G.711 (RFC 3264 §6: reject an offer we cannot accept),
// 400 when it is not SDP we understand — and ok is false.
func readOffer(req *sip.Request, tx sip.ServerTransaction) (offer audiosdp.Description, ok bool) {
	offer, err := audiosdp.Parse(req.Body())
	switch {
	case errors.Is(err, ErrNoCodec):
		respond(req, tx, 488, "Not Acceptable Here: G.711 Only")
		return offer, false
	case err != nil:
		respond(req, tx, 400, "Bad SDP")
		return offer, false
	}
	return offer, true
}

// keepLaw is the payload type to answer a new offer with once the call has one: the
// law we send (ours[0]) when the offer still has it, for the browser's codec is fixed
// for the call's life; otherwise the offer's first (RFC 3264 §6.1).
func keepLaw(offer audiosdp.Description, ours []uint8) uint8 {
	if len(ours) > 0 {
		for _, p := range offer.Payloads {
			if p == ours[0] {
				return p
			}
		}
	}
	return offer.Codec()
}
