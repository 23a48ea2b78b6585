package pool

import (
	"bytes"
	"net"
	"strings"

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
	if rport, ok := v.Params.Get("rport"); ok && rport == "" {
		// The read filter asked with an empty rport (withRport), as it does for every
		// datagram without one: sipgo fills received and rport into its answers' Via
		// and forwardCopy into the copy sent on. Writing them into req here as well
		// raced with sipgo's 100 Trying timer, which copies req's headers on its own
		// goroutine (seen under load in TestFloodGets503).
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

// withRport is raw with ";rport" added to the top Via's first value, for the UDP read
// filter: a cheap edit of the bytes rather than a second serialisation of the parsed
// request, since it runs for every datagram. raw has passed vetMessage and sipgo's
// parser, so its header lines are unfolded and its first Via is well formed.
func withRport(raw []byte) []byte {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		return raw
	}
	for at := bytes.Index(raw, []byte("\r\n")); at >= 0 && at < end; {
		start := at + 2
		next := bytes.Index(raw[start:], []byte("\r\n"))
		if next < 0 {
			return raw
		}
		line := string(raw[start : start+next])
		name, value, ok := strings.Cut(line, ":")
		if n := strings.ToLower(strings.TrimSpace(name)); ok && (n == "via" || n == "v") {
			cut := len(value)
			if i := indexOutsideQuotes(value, ','); i >= 0 {
				cut = i
			}
			for cut > 0 && (value[cut-1] == ' ' || value[cut-1] == '\t') {
				cut--
			}
			pos := start + len(name) + 1 + cut
			out := make([]byte, 0, len(raw)+6)
			out = append(out, raw[:pos]...)
			out = append(out, ";rport"...)
			return append(out, raw[pos:]...)
		}
		at = start + next
	}
	return raw
}
