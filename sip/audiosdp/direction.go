package audiosdp

// Direction is the SDP media direction attribute (RFC 4566 §6) with the
// offer/answer rules for it (RFC 3264 §6.1, §8.4): the one Direction type that
// the gateway's SIP user agent (gateway/ua) negotiates and the media bridge
// (media) gates forwarding by. It is seen from our side: SendOnly means we
// send and ignore what we receive, RecvOnly the reverse.
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

// Of is the direction that sends when send and receives when recv.
func Of(send, recv bool) Direction {
	switch {
	case send && recv:
		return SendRecv
	case send:
		return SendOnly
	case recv:
		return RecvOnly
	}
	return Inactive
}

// Sends reports whether d lets us send.
func (d Direction) Sends() bool { return d == SendRecv || d == SendOnly }

// Receives reports whether d lets us receive.
func (d Direction) Receives() bool { return d == SendRecv || d == RecvOnly }

// Answer is the direction an answerer takes for an offer's (RFC 3264 §6.1): the
// mirror image, limited by what we want (wantRecv false when we hold). With both true
// it is the plain mirror, which is also our direction after an answer to our offer.
func (d Direction) Answer(wantSend, wantRecv bool) Direction {
	return Of(d.Receives() && wantSend, d.Sends() && wantRecv)
}

// And is what both d and o allow: our offered direction limits what an answer can
// give us, even when a peer answers a=sendonly with a=sendrecv (RFC 3264 §6.1 says it
// must not; some phones do).
func (d Direction) And(o Direction) Direction {
	return Of(d.Sends() && o.Sends(), d.Receives() && o.Receives())
}
