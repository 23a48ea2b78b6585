package inorder

import (
	"bytes"
	"strconv"
	"strings"
)

// Scanned is what the Queue needs of one message, read from its bytes by Scan without
// parsing it: a read filter that wants nothing else of a message need not parse it
// only to order it (sipgo parses it again right after; issue #12's profile of the
// park path had the pool parse every message twice).
type Scanned struct {
	response bool
	status   int
	method   string // the request's method, or a response's CSeq method
	cseq     string // the CSeq method as written
	seq      uint32
	callID   string
	fromTag  string
	toTag    string
	branch   string // the top Via's branch
	rport    bool   // the top Via has an rport parameter (RFC 3581), with or without a value
}

// Response reports whether the message is a response.
func (s Scanned) Response() bool { return s.response }

// Method is a request's method, or a response's CSeq method.
func (s Scanned) Method() string { return s.method }

// Status is a response's status code (0 for a request).
func (s Scanned) Status() int { return s.status }

// CSeqMethod is the method named in CSeq, as written.
func (s Scanned) CSeqMethod() string { return s.cseq }

// ToTag is the To header's tag ("" without one).
func (s Scanned) ToTag() string { return s.toTag }

// Branch is the top Via's branch parameter.
func (s Scanned) Branch() string { return s.branch }

// Rport reports whether the top Via carries an rport parameter (RFC 3581), valued or
// not — what sipgo's ViaHeader.Params.Has("rport") says of the parsed message.
func (s Scanned) Rport() bool { return s.rport }

// InDialog reports whether the message is in a dialog: it has both tags.
func (s Scanned) InDialog() bool { return s.fromTag != "" && s.toTag != "" }

// Scan reads data's start line, top Via branch, From and To tags, Call-ID and CSeq. It
// reports false whenever it is not sure to read them as sipgo's parser would — folded
// lines, quoted or escaped parts it does not follow, a header twice, anything but the
// plainest form — and the caller then parses the message and calls Arrived or
// ArrivedResponse as before. When both succeed they agree (TestScanAgreesWithParse,
// FuzzScan). Scan does not check that the rest of the message parses.
func Scan(data []byte) (Scanned, bool) {
	var s Scanned
	end := bytes.Index(data, []byte("\r\n\r\n"))
	if end < 0 {
		return s, false
	}
	head := data[:end]
	for _, c := range head {
		if c < ' ' && c != '\r' && c != '\n' || c == 0x7f {
			return s, false // a tab or a control character: the parser's business
		}
	}
	if bytes.Count(head, []byte("\n")) != bytes.Count(head, []byte("\r\n")) ||
		bytes.Count(head, []byte("\r")) != bytes.Count(head, []byte("\r\n")) {
		return s, false // a bare CR or LF
	}
	nl := bytes.Index(head, []byte("\r\n"))
	if nl < 0 {
		return s, false
	}
	if !s.startLine(string(head[:nl])) {
		return s, false
	}
	var seen uint8 // Call-ID, CSeq, From, To, Via
	cseqMethod := ""
	for rest := head[nl+2:]; len(rest) > 0; {
		var line []byte
		if i := bytes.Index(rest, []byte("\r\n")); i >= 0 {
			line, rest = rest[:i], rest[i+2:]
		} else {
			line, rest = rest, nil
		}
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
			return s, false // folded, or not a header
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return s, false
		}
		name := line[:colon]
		var bit uint8
		switch {
		case len(name) == 1:
			switch name[0] | 0x20 {
			case 'i':
				bit = 1
			case 'f':
				bit = 4
			case 't':
				bit = 8
			case 'v':
				bit = 16
			default:
				continue
			}
		case asciiEqualFold(name, "call-id"):
			bit = 1
		case asciiEqualFold(name, "cseq"):
			bit = 2
		case asciiEqualFold(name, "from"):
			bit = 4
		case asciiEqualFold(name, "to"):
			bit = 8
		case asciiEqualFold(name, "via"):
			bit = 16
		default:
			if c := name[len(name)-1]; c == ' ' || c == '\t' {
				return s, false // "Via :" and the like: the parser's business
			}
			continue
		}
		if bit == 16 && seen&16 != 0 {
			continue // a later Via: only the top one counts
		}
		if seen&bit != 0 {
			return s, false
		}
		seen |= bit
		value, ok := plainValue(line[colon+1:])
		if !ok {
			return s, false
		}
		switch bit {
		case 1:
			s.callID = value
		case 2:
			num, m, ok := strings.Cut(value, " ")
			if !ok || !allDigits(num) || len(num) > 10 || !isToken(m) {
				return s, false
			}
			n, err := strconv.ParseUint(num, 10, 32)
			if err != nil || n > 1<<31-1 {
				return s, false
			}
			s.seq, cseqMethod = uint32(n), m
		case 4, 8:
			tag, ok := addressTag(value)
			if !ok {
				return s, false
			}
			if bit == 4 {
				s.fromTag = tag
			} else {
				s.toTag = tag
			}
		case 16:
			branch, rport, ok := viaBranch(value)
			if !ok {
				return s, false
			}
			s.branch, s.rport = branch, rport
		}
	}
	if seen != 31 {
		return s, false // something is missing: let the parser say what
	}
	s.cseq = cseqMethod
	if s.response {
		s.method = cseqMethod
	}
	return s, true
}

// startLine reads "METHOD URI SIP/2.0" or "SIP/2.0 CODE reason".
func (s *Scanned) startLine(line string) bool {
	if rest, ok := strings.CutPrefix(line, "SIP/2.0 "); ok {
		if len(rest) < 4 || rest[3] != ' ' || !allDigits(rest[:3]) || rest[0] == '0' {
			return false
		}
		s.response = true
		s.status, _ = strconv.Atoi(rest[:3])
		return true
	}
	method, rest, ok := strings.Cut(line, " ")
	if !ok || !isToken(method) {
		return false
	}
	uri, version, ok := strings.Cut(rest, " ")
	if !ok || version != "SIP/2.0" || uri == "" || strings.ContainsAny(uri, " \t") {
		return false
	}
	s.method = method
	return true
}

// plainValue is a header's value without the white space around it; it reports false
// for an empty value or one with a tab, quotes the callers do not follow, or white
// space runs.
func plainValue(v []byte) (string, bool) {
	v = bytes.TrimLeft(v, " ")
	if len(v) == 0 || v[len(v)-1] == ' ' || bytes.IndexByte(v, '\t') >= 0 ||
		bytes.Contains(v, []byte("  ")) || bytes.IndexByte(v, '\\') >= 0 {
		return "", false
	}
	return string(v), true
}

// addressTag is the tag of a From or To value of the form [display-name] <uri>;params.
// A value without <> (the parser then takes params after the URI as the header's, but
// not always) is left to the parser, as is a param spelt "Tag".
func addressTag(v string) (string, bool) {
	if strings.IndexByte(v, ',') >= 0 {
		return "", false // a list, or a comma the parser might take for one
	}
	if strings.HasPrefix(v, `"`) {
		q := strings.IndexByte(v[1:], '"')
		if q < 0 {
			return "", false
		}
		v = v[q+2:]
	}
	if strings.IndexByte(v, '"') >= 0 {
		return "", false // a quote it did not follow
	}
	lt := strings.IndexByte(v, '<')
	gt := strings.IndexByte(v, '>')
	if lt < 0 || gt < lt || strings.IndexByte(v[gt+1:], '>') >= 0 || strings.IndexByte(v[gt+1:], '<') >= 0 {
		return "", false
	}
	return param(v[gt+1:], "tag")
}

// viaBranch is the branch of the first via-parm of a Via value: "SIP/2.0/UDP
// host[:port];params", possibly followed by ", " and more via-parms; and whether it has
// an rport parameter.
func viaBranch(v string) (string, bool, bool) {
	if strings.IndexByte(v, '"') >= 0 || strings.IndexByte(v, '(') >= 0 {
		return "", false, false
	}
	first, _, _ := strings.Cut(v, ",")
	proto, sentBy, ok := strings.Cut(first, " ")
	if !ok || !strings.HasPrefix(proto, "SIP/2.0/") || strings.IndexByte(proto, ';') >= 0 {
		return "", false, false
	}
	if !isToken(proto[len("SIP/2.0/"):]) {
		return "", false, false
	}
	hostPort, params, _ := strings.Cut(sentBy, ";")
	host, port, hasPort := strings.Cut(hostPort, ":")
	if !isHost(host) || hasPort && (!allDigits(port) || len(port) > 5) || strings.IndexByte(params, ' ') >= 0 {
		return "", false, false // an IPv6 reference among others: left to the parser
	}
	branch, ok := param(";"+params, "branch")
	if !ok {
		return "", false, false
	}
	// param vetted the list: plain ";key[=value]" items.
	rport := false
	for _, p := range strings.Split(params, ";") {
		k, _, _ := strings.Cut(p, "=")
		if k == "rport" {
			rport = true
		} else if strings.EqualFold(k, "rport") {
			return "", false, false // the parser's keys are case-sensitive: left to it
		}
	}
	return branch, rport, true
}

// param finds name in params (";a=b;c", or "" for none): its value, "" when it is
// absent. It reports false for anything it is not sure of: white space, a second one,
// a name that differs from name only in case, an empty or valueless one.
func param(params, name string) (string, bool) {
	if params == "" || params == ";" {
		return "", params == ""
	}
	if params[0] != ';' || strings.ContainsAny(params, " \t,<>") {
		return "", false
	}
	found, value := false, ""
	for _, p := range strings.Split(params[1:], ";") {
		k, val, hasValue := strings.Cut(p, "=")
		if k == "" {
			return "", false
		}
		if !strings.EqualFold(k, name) {
			continue
		}
		if k != name || found || !hasValue || val == "" || strings.IndexByte(val, '=') >= 0 {
			return "", false
		}
		found, value = true, val
	}
	return value, true
}

func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// isHost: a host name or IPv4 address, letters, digits, dots and hyphens.
func isHost(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c|0x20 && c|0x20 <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return s != ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isToken: a method name in capitals, letters only (every SIP method; the parser
// upper-cases the request line's, not CSeq's).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 'A' || c > 'Z' {
			return false
		}
	}
	return s != ""
}

// ArrivedScanned is Arrived or ArrivedResponse for a message Scan read.
func (q *Queue) ArrivedScanned(s Scanned) {
	if k, id, skip, ok := s.entry(); ok {
		q.add(k, id, skip)
	}
}

// Pass reports whether a request Scan read may be acted on at once, on the reading
// goroutine, instead of being queued with ArrivedScanned and waiting in Turn: nothing of
// its dialog that arrived before it is still waiting or running, and it is not a
// retransmission of a request the Queue ordered (that one's transaction takes it), nor
// an ACK of an INVITE the Queue ordered (its transaction takes a non-2xx's ACK). A
// request passed is remembered, so that its retransmissions pass too, and a BYE passed
// ends its dialog's ordering as a finished one does. Pass reports false, and the caller
// queues the request as before, for anything it cannot tell.
//
// A stateless relay (RFC 3261 §16.11) relays what Pass lets through from the read filter:
// in arrival order, since the filter reads in that order and nothing earlier is pending.
func (q *Queue) Pass(s Scanned) bool {
	if s.response {
		return false
	}
	k, id, skip, ok := s.entry()
	if !ok {
		return false
	}
	now := q.opt.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	d := q.dialogLocked(k, now)
	if d == nil {
		return false
	}
	if d.passes(id) {
		return true
	}
	if len(d.pending) > 0 || d.knows(id) || skip != "" && d.knows(skip) {
		return false
	}
	d.passed[d.nextPassed] = id
	d.nextPassed = (d.nextPassed + 1) % passedLen
	if s.method == "BYE" {
		d.ended = true
	}
	return true
}

// entry is what Arrived or ArrivedResponse would queue for the message: its dialog, its
// id and the id of a request whose transaction takes it; false for nothing to queue.
func (s Scanned) entry() (k dialogKey, id, skip string, ok bool) {
	if !s.InDialog() || s.callID == "" {
		return k, "", "", false
	}
	ft, tt := s.fromTag, s.toTag
	if tt < ft {
		ft, tt = tt, ft
	}
	k = dialogKey{callID: s.callID, tag1: ft, tag2: tt}
	seq := strconv.FormatUint(uint64(s.seq), 10)
	if s.response {
		if s.status == 100 || s.method == "CANCEL" || s.method == "BYE" {
			return k, "", "", false
		}
		return k, "SIP/2.0 " + strconv.Itoa(s.status) + " " + seq + " " + s.method + " " + s.branch, "", true
	}
	switch s.method {
	case "CANCEL":
		return k, "", "", false
	case "ACK":
		skip = "INVITE " + seq + " " + s.branch
	}
	return k, s.method + " " + seq + " " + s.branch, skip, true
}
