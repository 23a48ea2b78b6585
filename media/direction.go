package media

import "github.com/parkway/parkway/sip/audiosdp"

// Direction gates forwarding like an SDP direction attribute (RFC 3264
// §5.1, §8.4), seen from the gateway toward the SIP peer: SendOnly means the
// gateway sends to the SIP peer (browser audio goes out) and ignores what
// it receives; RecvOnly the reverse. Hold is a direction change, not a
// teardown: the sockets, SSRCs and offsets stay, so resuming needs no
// browser renegotiation. It is the same type as gateway/ua's Direction.
type Direction = audiosdp.Direction

// The four SDP directions.
const (
	SendRecv = audiosdp.SendRecv
	SendOnly = audiosdp.SendOnly
	RecvOnly = audiosdp.RecvOnly
	Inactive = audiosdp.Inactive
)

// ParseDirection reads an SDP direction attribute name.
func ParseDirection(s string) (Direction, bool) { return audiosdp.ParseDirection(s) }
