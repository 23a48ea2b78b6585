package media

// Direction gates forwarding like an SDP direction attribute (RFC 3264
// §5.1, §8.4), seen from the gateway toward the SIP peer: SendOnly means the
// gateway sends to the SIP peer (browser audio goes out) and ignores what
// it receives; RecvOnly the reverse. Hold is a direction change, not a
// teardown: the sockets, SSRCs and offsets stay, so resuming needs no
// browser renegotiation.
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
	return "invalid"
}

// ParseDirection reads an SDP direction attribute name.
func ParseDirection(s string) (Direction, bool) {
	for d := SendRecv; d <= Inactive; d++ {
		if d.String() == s {
			return d, true
		}
	}
	return 0, false
}

func (d Direction) toSIP() bool     { return d == SendRecv || d == SendOnly }
func (d Direction) toBrowser() bool { return d == SendRecv || d == RecvOnly }
