package pool

import (
	"net"

	"github.com/emiago/sipgo/sip"
)

// answerToSource makes every answer to a UDP request go back to the address and port
// the request came from, whether or not the sender asked for it with rport (RFC 3581
// §4, what Asterisk calls force_rport and Kamailio force_rport()): the top Via gets
// received= and rport= from the packet's source before anything answers it.
//
// Without this, sipgo sends a UDP response to the Via's sent-by host and port, so a
// request could name any third party as the receiver of the pool's answers (a
// reflector), and a phone behind NAT, or one whose Via names a host the pool cannot
// resolve (every message of RFC 4475 does), would never hear back. A request sent on
// keeps the two parameters, as §4 asks of a server, so answers from further along find
// their way back too.
func answerToSource(req *sip.Request) {
	if req.Transport() != "UDP" {
		return
	}
	v := req.Via()
	if v == nil {
		return
	}
	host, port, err := net.SplitHostPort(req.Source())
	if err != nil {
		return
	}
	if v.Params == nil {
		v.Params = sip.NewParams()
	}
	v.Params.Add("received", host)
	v.Params.Add("rport", port)
}
