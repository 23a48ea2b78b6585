package pool

import (
	"bytes"
	"strings"
	"unsafe"
)

// vetClean is vetMessage's quick answer for the ordinary message, which is nearly every
// one: it reports true only when vetMessage would accept raw as it is (nothing to
// normalise, nothing to refuse), and false whenever it is not sure — then vetMessage
// does its full pass. It reads the header block in place, without allocating; the full
// pass splits, lower-cases and rebuilds every line it looks at, which made it cost as
// much as sipgo's own parse of the same datagram (issue #12's profile of the park path:
// 6 % of the pool's CPU and 11 % of its allocations).
//
// Every check here is a stricter form of one in vetMessage; TestVetCleanAgreesWithVet
// and FuzzVetClean hold the two together.
func vetClean(raw []byte) bool {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		return true // vetMessage leaves a message without a header block alone
	}
	// The header block read as a string without copying it (issue #12: the copy was 4 %
	// of the pool's allocated bytes). Sound because nothing here keeps any part of head
	// past the return — vetClean answers a bool — and raw is not written meanwhile: the
	// read loop hands it to the filter and waits for the answer.
	head := unsafe.String(unsafe.SliceData(raw), end)
	line, rest, _ := strings.Cut(head, "\r\n")
	method, ok := cleanStartLine(line)
	if !ok {
		return false
	}
	var seen singleSeen
	contentLength := false
	for rest != "" {
		line, rest, _ = strings.Cut(rest, "\r\n")
		if line != "" && (line[0] == ' ' || line[0] == '\t') {
			return false // a folded line: the full pass unfolds it
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var low [16]byte
		n, ascii := lowerKey(&low, name)
		if !ascii {
			return false // strings.ToLower maps some non-ASCII letters to ASCII ones
		}
		key := string(low[:n]) // does not escape: on the stack
		if one := singleValued(key); one != "" && !seen.first(one) {
			return false
		}
		switch key {
		case "v", "via":
			if !tight(value, "/;=,") {
				return false
			}
		case "f", "from", "t", "to":
			if !tight(value, ";=") || !goodNameAddr(value) {
				return false
			}
		case "m", "contact", "route", "record-route":
			if !tight(value, ";=") || strings.IndexByte(value, ',') >= 0 || !goodNameAddr(value) {
				return false // a list: the full pass splits it
			}
		case "cseq":
			if !cleanCSeq(value, method) {
				return false
			}
		case "l", "content-length":
			if contentLength {
				return false // twice: the full pass compares them
			}
			contentLength = true
		}
	}
	return true
}

// cleanStartLine checks a request line the way vetMessage does, strictly: exactly
// "METHOD URI SIP/2.0" with a sip, sips or tel URI that has no headers. It returns the
// method (or "" for a status line).
func cleanStartLine(line string) (string, bool) {
	if strings.HasPrefix(line, "SIP/") {
		return "", true
	}
	method, rest, ok1 := strings.Cut(line, " ")
	uri, version, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || method == "" || version != "SIP/2.0" || strings.IndexByte(uri, ' ') >= 0 {
		return "", false
	}
	scheme, _, _ := strings.Cut(uri, ":")
	switch strings.ToLower(scheme) {
	case "sip", "sips":
		if strings.Contains(uri[strings.LastIndexByte(uri, '@')+1:], "?") {
			return "", false
		}
	case "tel":
	default:
		return "", false
	}
	return method, true
}

// lowerKey lower-cases a header name (trimmed of white space) into buf and returns its
// length; a name longer than buf is none that vetMessage looks at, and comes back
// empty. It reports false for a name that is not all ASCII.
func lowerKey(buf *[16]byte, name string) (int, bool) {
	name = strings.TrimSpace(name)
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			return 0, false
		}
	}
	if len(name) > len(buf) {
		return 0, true
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return len(name), true
}

// singleSeen remembers which single-valued headers (singleValued) were met.
type singleSeen uint8

func (s *singleSeen) first(name string) bool {
	var bit singleSeen
	switch name {
	case "Call-ID":
		bit = 1
	case "CSeq":
		bit = 2
	case "From":
		bit = 4
	case "To":
		bit = 8
	default:
		bit = 16
	}
	if *s&bit != 0 {
		return false
	}
	*s |= bit
	return true
}

// tight reports whether tightenSeparators(v, seps) would return v unchanged: a run of
// SPs before the value and no white space after it, and outside quoted strings no
// HTAB, no run of white space and none next to a separator but one SP after a comma.
func tight(v, seps string) bool {
	t := strings.TrimSpace(v)
	lead := leadingSP(v, t)
	if len(v) != len(lead)+len(t) || !strings.HasPrefix(v, lead) {
		return false
	}
	quoted, escaped := false, false
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case quoted:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '\t':
			return false
		case c == ' ':
			// t is trimmed, so a space has a byte on either side.
			prev, next := t[i-1], t[i+1]
			if prev == ' ' || next == ' ' || next == '\t' ||
				prev != ',' && strings.IndexByte(seps, prev) >= 0 || strings.IndexByte(seps, next) >= 0 {
				return false
			}
		}
	}
	return true
}

// cleanCSeq reports whether a CSeq value is already " NUMBER METHOD" with single spaces
// and, in a request, the request's method.
func cleanCSeq(v, method string) bool {
	if len(v) < 2 || v[0] != ' ' {
		return false
	}
	num, m, ok := strings.Cut(v[1:], " ")
	if !ok || !visible(num) || !visible(m) {
		return false
	}
	return method == "" || m == method
}

// visible reports whether s is not empty and all printable ASCII without white space:
// strings.Fields leaves it whole.
func visible(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return s != ""
}
