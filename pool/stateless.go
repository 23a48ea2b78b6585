package pool

import (
	"bytes"
	"context"
	"encoding/hex"
	"hash/maphash"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/sip/calltrace"
	"github.com/parkway/parkway/sip/inorder"
	"github.com/parkway/parkway/sip/sipcapture"
)

// Stateless relay of in-dialog requests and their answers (RFC 3261 §16.11, issue #12).
//
// Three in four requests of a park cycle are inside a dialog (ACK, BYE, NOTIFY, REFER),
// and the stateful path gave each a sipgo parse, a server and a client transaction, two
// goroutines, a wait in the dialog's order and two copies — for a request that goes to
// the one place its Request-URI names and whose answers come straight back. The read
// filter now relays such a request from its bytes, on the goroutine that reads the
// socket, when nothing of its dialog is still in flight (inorder.Queue.Pass): so the
// order the phones sent in is the order relayed, as the queue would have kept it. Its
// answers come back with our Via, known by its branch, and go on by the next Via in the
// filter too.
//
// What the stateful path does with such a request is done here the same way: Max-Forwards
// decremented (added when missing), received and rport put in the sender's Via (RFC 3581;
// the pool answers to the packet's source, symmetric.go), our Via on top, the
// Request-URI retargeted to the registered contact, no Record-Route. The branch is a hash
// of the request's own branch, method and source, so a retransmission is relayed with the
// same branch and the far end's transaction absorbs it (§16.11). Everything else takes
// the stateful path as before: INVITE and CANCEL; a request with a Route, a
// Proxy-Require, a park time to vouch for, no hops left or one of our own Vias (a loop or
// a spiral: the stateful path's loop check answers it); anything Scan or this file's
// reading is not sure of; a target over TCP or TLS, at the peer pool or with a contact
// that is not an IPv4 address; an ACK that may be for a non-2xx answer the pool's
// INVITE transaction must take (rejectedInvites); a request too large for UDP.
//
// What a stateless relay gives up, by RFC 3261's design: no 408 or 503 from the pool when
// the far end never answers or cannot be reached — the phone's own transaction times out.

// statelessPrefix marks the branch of a request relayed statelessly.
const statelessPrefix = sip.RFC3261BranchMagicCookie + ".pws"

var statelessSeed = maphash.MakeSeed()

// statelessBranch is the branch of the relayed copy of a request with top Via branch
// branch and method method, read from src: the same for its retransmissions.
func statelessBranch(branch, method string, src netip.AddrPort) string {
	var sum [8]byte
	v := txHash(statelessSeed, branch, method, src)
	for i := range sum {
		sum[i] = byte(v >> (8 * i))
	}
	return statelessPrefix + hex.EncodeToString(sum[:])
}

// statelessMethod: the in-dialog requests relayed statelessly. INVITE needs its 100
// Trying, CANCEL and Timer C; CANCEL is hop by hop; REGISTER is never in a dialog.
func statelessMethod(m string) bool {
	switch sip.RequestMethod(m) {
	case sip.ACK, sip.BYE, sip.NOTIFY, sip.REFER, sip.INFO, sip.MESSAGE, sip.UPDATE, sip.PRACK, sip.OPTIONS, sip.SUBSCRIBE:
		return true
	}
	return false
}

// rawForward is what relayStateless reads of a request's bytes.
type rawForward struct {
	uriStart, uriEnd int // the Request-URI
	lineEnd          int // where the request line's CRLF starts
	viaStart, viaEnd int // the top Via's first value, without trailing white space
	mfStart, mfEnd   int // Max-Forwards' value; mfStart < 0 without one
	mf               int
	viaHost          string
	viaParams        string // ";a=b;c" of the top Via's first value
	trace            string // the calltrace id, if any
}

// readRequest reads data (vetted, scanned in-dialog request) for relayStateless; false
// for anything that sends it the stateful way.
func (n *node) readRequest(data []byte) (rawForward, bool) {
	r := rawForward{mfStart: -1, viaStart: -1}
	end := bytes.Index(data, []byte("\r\n\r\n"))
	nl := bytes.Index(data, []byte("\r\n"))
	if end < 0 || nl < 0 {
		return r, false
	}
	sp := bytes.IndexByte(data[:nl], ' ')
	last := bytes.LastIndexByte(data[:nl], ' ')
	if sp < 0 || last <= sp+1 {
		return r, false
	}
	r.uriStart, r.uriEnd, r.lineEnd = sp+1, last, nl
	self := n.selfVia()
	for at := nl + 2; at < end+2; {
		e := bytes.Index(data[at:], []byte("\r\n"))
		if e < 0 {
			return r, false
		}
		line := data[at : at+e]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return r, false
		}
		name := strings.ToLower(string(line[:colon]))
		value := line[colon+1:]
		vs := colon + 1 // where value starts within line
		for len(value) > 0 && value[0] == ' ' {
			value, vs = value[1:], vs+1
		}
		switch name {
		case "via", "v":
			for _, s := range self {
				if bytes.Contains(value, []byte(s)) {
					return r, false // one of ours: a loop or a spiral
				}
			}
			if r.viaStart >= 0 {
				break
			}
			first := value
			if c := bytes.IndexByte(first, ','); c >= 0 {
				first = first[:c]
			}
			first = bytes.TrimRight(first, " ")
			proto, sentBy, ok := strings.Cut(string(first), " ")
			if !ok || proto != "SIP/2.0/UDP" {
				return r, false
			}
			hostPort, params, _ := strings.Cut(sentBy, ";")
			host, _, _ := strings.Cut(hostPort, ":")
			r.viaHost, r.viaParams = host, ";"+params
			r.viaStart, r.viaEnd = at+vs, at+vs+len(first)
		case "max-forwards":
			v := bytes.TrimRight(value, " ")
			mf, err := strconv.Atoi(string(v))
			if err != nil || mf <= 0 || mf > 255 || r.mfStart >= 0 {
				return r, false // none left: the stateful path answers 483
			}
			r.mf, r.mfStart, r.mfEnd = mf, at+vs, at+vs+len(v)
		case "route", "proxy-require", strings.ToLower(parkwire.ParkedSinceHeader):
			return r, false
		case strings.ToLower(calltrace.Header):
			r.trace = string(bytes.TrimRight(value, " "))
		}
		at += e + 2
	}
	return r, r.viaStart >= 0
}

// selfVia are the sent-by values of the Vias this node puts on what it sends.
func (n *node) selfVia() []string {
	s := []string{net.JoinHostPort(n.host, strconv.Itoa(n.port))}
	if n.tlsL != nil {
		s = append(s, net.JoinHostPort(n.host, strconv.Itoa(n.tlsPort())))
	}
	return s
}

// statelessTarget is where a relayed request for user goes: the park service (Request-URI
// kept) or the user's newest binding (Request-URI retargeted to its contact), as route
// decides, when that is over UDP to an IPv4 address; false for anything else.
func (n *node) statelessTarget(user string) (netip.AddrPort, *sip.Uri, bool) {
	if user == "" || user == n.pool.cfg.Name {
		return netip.AddrPort{}, nil, false
	}
	if user == parkwire.ParkUser || n.ownsOrbit(user) {
		if n.park == nil {
			return netip.AddrPort{}, nil, false
		}
		ap, err := netip.ParseAddrPort(n.park.Addr())
		return ap, nil, err == nil && ap.Addr().Is4()
	}
	bs := n.pool.bindings.Get(user, n.pool.opt.Now())
	if len(bs) == 0 {
		return netip.AddrPort{}, nil, false // the peer's, or no one's: the stateful path says
	}
	t := userTarget(bs[0])
	if t.transport != "UDP" || !strings.EqualFold(t.uri.Scheme, "sip") {
		return netip.AddrPort{}, nil, false
	}
	ap, err := netip.ParseAddrPort(t.addr)
	return ap, t.uri, err == nil && ap.Addr().Is4()
}

// uriUser is the user part of a plain sip: Request-URI; false for anything the parser
// might read otherwise (escapes, parameters in the user part, another scheme).
func uriUser(uri []byte) (string, bool) {
	if len(uri) < 4 || !strings.EqualFold(string(uri[:4]), "sip:") {
		return "", false
	}
	at := bytes.IndexByte(uri, '@')
	if at < 0 {
		return "", true // no user: the pool's own
	}
	user := uri[4:at]
	for _, c := range user {
		if !('a' <= c|0x20 && c|0x20 <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '+') {
			return "", false
		}
	}
	return string(user), true
}

// relayStateless relays an in-dialog UDP request read by the filter (vetted, scanned)
// statelessly and reports true, or reports false and leaves it to the stateful path.
func (n *node) relayStateless(s inorder.Scanned, data []byte, src net.Addr) bool {
	if n.pool.opt.testStateful || !statelessMethod(s.Method()) || s.CSeqMethod() != s.Method() {
		return false // a CSeq that does not match: validate answers 400
	}
	ap, ok := addrPort(src)
	if !ok || !ap.Addr().Unmap().Is4() {
		return false
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	if s.Method() == string(sip.ACK) && n.rejectedInvite(s.Branch(), ap) {
		return false // the ACK of a non-2xx answer: the INVITE's transaction takes it
	}
	r, ok := n.readRequest(data)
	if !ok {
		return false
	}
	user, ok := uriUser(data[r.uriStart:r.uriEnd])
	if !ok {
		return false
	}
	to, uri, ok := n.statelessTarget(user)
	if !ok {
		return false
	}
	// The sender's Via: received when its host is not the packet's source, and rport
	// with the source port (RFC 3581 §4), as answerToSource and forwardCopy do.
	srcIP := ap.Addr().String()
	var params strings.Builder
	for _, p := range strings.Split(r.viaParams[1:], ";") {
		k, _, valued := strings.Cut(p, "=")
		switch k {
		case "rport":
			if valued {
				return false // a port the sender chose: left to the stateful path
			}
			continue
		case "received":
			return false
		}
		params.WriteByte(';')
		params.WriteString(p)
	}
	if r.viaHost != srcIP {
		params.WriteString(";received=" + srcIP)
	}
	params.WriteString(";rport=" + strconv.Itoa(int(ap.Port())))
	viaValue := string(data[r.viaStart:r.viaStart+strings.IndexByte(string(data[r.viaStart:r.viaEnd]), ';')]) + params.String()

	out := make([]byte, 0, len(data)+160)
	out = append(out, data[:r.uriStart]...)
	if uri != nil {
		out = append(out, uri.String()...)
	} else {
		out = append(out, data[r.uriStart:r.uriEnd]...)
	}
	out = append(out, data[r.uriEnd:r.lineEnd+2]...)
	out = append(out, "Via: SIP/2.0/UDP "...)
	out = append(out, n.selfVia()[0]...)
	out = append(out, ";branch="...)
	out = append(out, statelessBranch(s.Branch(), s.Method(), ap)...)
	out = append(out, "\r\n"...)
	if r.mfStart < 0 {
		out = append(out, "Max-Forwards: 70\r\n"...)
	}
	// The rest, with the two edits in the order they come.
	type edit struct {
		start, end int
		with       string
	}
	edits := []edit{{r.viaStart, r.viaEnd, viaValue}}
	if r.mfStart >= 0 {
		mf := edit{r.mfStart, r.mfEnd, strconv.Itoa(r.mf - 1)}
		if mf.start < r.viaStart {
			edits = []edit{mf, edits[0]}
		} else {
			edits = append(edits, mf)
		}
	}
	at := r.lineEnd + 2
	for _, e := range edits {
		out = append(out, data[at:e.start]...)
		out = append(out, e.with...)
		at = e.end
	}
	out = append(out, data[at:]...)
	if len(out) > maxUDPRequest {
		return false // §18.1.1: the stateful path sends it over TCP
	}
	if !n.order.Pass(s) {
		return false // something of its dialog is still in flight: it waits its turn
	}
	if err := n.sendUDP(out, to); err != nil {
		n.log.Debug("stateless relay failed", "to", to.String(), "error", err)
	}
	if r.trace != "" && n.log.Enabled(context.Background(), slog.LevelDebug) {
		n.log.Debug("proxied", "method", s.Method(), "user", user, "to", to.String(), calltrace.Attr, r.trace, "stateless", true)
	}
	return true
}

// relayResponseStateless sends on an answer to a request relayed statelessly: our Via
// off the top and by the next Via (its received and rport), read from the bytes when they
// are plain, parsed otherwise. An answer whose top Via is not ours is dropped, as sipgo
// drops an answer that matches no transaction.
func (n *node) relayResponseStateless(s inorder.Scanned, data []byte) {
	end := bytes.Index(data, []byte("\r\n\r\n"))
	nl := bytes.Index(data, []byte("\r\n"))
	if end < 0 || nl < 0 {
		return
	}
	self := n.selfVia()[0]
	for at := nl + 2; at < end+2; {
		e := bytes.Index(data[at:], []byte("\r\n"))
		if e < 0 {
			return
		}
		line := data[at : at+e]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return
		}
		name := strings.ToLower(string(line[:colon]))
		if name != "via" && name != "v" {
			at += e + 2
			continue
		}
		value := line[colon+1:]
		vs := colon + 1
		for len(value) > 0 && value[0] == ' ' {
			value, vs = value[1:], vs+1
		}
		first, rest, list := bytes.Cut(value, []byte(","))
		if _, sentBy, _ := strings.Cut(string(first), " "); !strings.HasPrefix(sentBy, self+";") {
			return // not ours
		}
		var out []byte
		var next []byte
		if list {
			// "Via: ours, next": keep "Via: next".
			rest = bytes.TrimLeft(rest, " ")
			next = rest
			out = make([]byte, 0, len(data))
			out = append(out, data[:at+vs]...)
			out = append(out, data[at+vs+len(value)-len(rest):]...)
		} else {
			out = make([]byte, 0, len(data))
			out = append(out, data[:at]...)
			out = append(out, data[at+e+2:]...)
			// The next Via is the next Via line.
			next = nextVia(out[:bytes.Index(out, []byte("\r\n\r\n"))+2], at)
		}
		to, branch, ok := viaDestination(next)
		if !ok {
			n.relayResponseParsed(data)
			return
		}
		if statelessBranch(branch, s.Method(), to) != s.Branch() {
			// Not the branch we gave the request this Via stands for: an answer made
			// up to have the pool send it to whatever the next Via names.
			return
		}
		if s.Status() >= 200 && strings.HasPrefix(branch, sip.RFC3261BranchMagicCookie) {
			// A final answer is kept, as the pool's own transactions keep theirs
			// (earlyend.go): a retransmission of the request read from now on is
			// answered with it by the filter rather than relayed again — the far end
			// answered already, and a phone like SIPp's may take a repeated request
			// for one out of turn. (The relayed copy's branch was made from this one.)
			n.finished.add(finishedKey(branch, s.Method(), to), out, time.Now())
		}
		if err := n.sendUDP(out, to); err != nil {
			n.log.Debug("stateless relay of an answer failed", "error", err)
		}
		return
	}
}

// nextVia is the value of the first Via line of head at or after offset at (nil if none).
func nextVia(head []byte, at int) []byte {
	for at < len(head) {
		e := bytes.Index(head[at:], []byte("\r\n"))
		if e < 0 {
			return nil
		}
		line := head[at : at+e]
		if colon := bytes.IndexByte(line, ':'); colon > 0 {
			if name := strings.ToLower(string(line[:colon])); name == "via" || name == "v" {
				return bytes.TrimLeft(line[colon+1:], " ")
			}
		}
		at += e + 2
	}
	return nil
}

// viaDestination is where an answer goes by a Via value (its first via-parm): received
// or the sent-by host, and rport or the sent-by port (RFC 3261 §18.2.2, RFC 3581), and
// its branch, when
// the transport is UDP and the host an IPv4 address; false otherwise.
func viaDestination(v []byte) (netip.AddrPort, string, bool) {
	first, _, _ := bytes.Cut(v, []byte(","))
	proto, sentBy, ok := strings.Cut(string(bytes.TrimRight(first, " ")), " ")
	if !ok || proto != "SIP/2.0/UDP" {
		return netip.AddrPort{}, "", false
	}
	hostPort, params, _ := strings.Cut(sentBy, ";")
	host, port, hasPort := strings.Cut(hostPort, ":")
	branch := ""
	if !hasPort {
		port = "5060"
	}
	for _, p := range strings.Split(params, ";") {
		k, val, _ := strings.Cut(p, "=")
		switch k {
		case "received":
			host = val
		case "rport":
			if val != "" {
				port = val
			}
		case "branch":
			branch = val
		}
	}
	addr, err := netip.ParseAddr(host)
	pn, perr := strconv.ParseUint(port, 10, 16)
	if err != nil || perr != nil || !addr.Is4() || pn == 0 {
		return netip.AddrPort{}, "", false
	}
	return netip.AddrPortFrom(addr, uint16(pn)), branch, true
}

// sendUDP sends data from the node's UDP socket to to, outside sipgo's transports, and
// records it in the --sip-capture running, as sipgo records what it sends: before the
// write, so the capture has it by the time anyone can answer it.
func (n *node) sendUDP(data []byte, to netip.AddrPort) error {
	if sipcapture.Running() {
		sipcapture.Sent("UDP", n.addr, to.String(), data)
	}
	_, err := n.udp.WriteToUDPAddrPort(data, to)
	return err
}

// sendUDPTo is sendUDP to a net.Addr.
func (n *node) sendUDPTo(data []byte, to net.Addr) error {
	if sipcapture.Running() {
		sipcapture.Sent("UDP", n.addr, to.String(), data)
	}
	_, err := n.udp.WriteTo(data, to)
	return err
}

// relayResponseParsed is relayResponseStateless for an answer it could not read plainly.
func (n *node) relayResponseParsed(data []byte) {
	m, err := guardParser.ParseSIP(data)
	res, ok := m.(*sip.Response)
	if err != nil || !ok {
		return
	}
	out := upstreamCopy(res, "")
	if out.Via() == nil {
		return
	}
	n.writeStateless(out)
}

// rejectedInvite reports whether the INVITE with top Via branch from src was answered
// with a non-2xx final answer (or cancelled) lately: its ACK belongs to the INVITE's
// server transaction (RFC 3261 §17.2.1), not to the far end.
func (n *node) rejectedInvite(branch string, src netip.AddrPort) bool {
	_, ok := n.rejected.get(finishedKey(branch, string(sip.INVITE), src), time.Now())
	return ok
}

// rejectedInviteFrom is rejectedInvite for a request's source as read.
func (n *node) rejectedInviteFrom(branch string, src net.Addr) bool {
	ap, ok := addrPort(src)
	return ok && n.rejectedInvite(branch, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
}

// noteRejectedInvite records that the INVITE req (UDP, from src) gets, or may get, a
// non-2xx final answer from this pool's transaction.
func (n *node) noteRejectedInvite(branch string, src netip.AddrPort) {
	n.rejected.add(finishedKey(branch, string(sip.INVITE), netip.AddrPortFrom(src.Addr().Unmap(), src.Port())), nil, time.Now())
}
