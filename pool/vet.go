package pool

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// vetMessage is the pool's own pass over a message's raw bytes before sipgo parses it,
// for the RFC 4475 torture messages sipgo gets wrong (pool/RFC4475.md has the table).
// It does two things and nothing else:
//
//   - normalises linear white space where RFC 3261 §7.3.1 allows it but sipgo's parser
//     does not follow: folded header lines are unfolded, and in Via, From, To,
//     Contact, Route and Record-Route the white space around "/", ";", "=" and ","
//     (outside quoted strings) is dropped, so "SIP / 2.0 / UDP h ; branch = z9hG4bK1"
//     reads as "SIP/2.0/UDP h;branch=z9hG4bK1" (§3.1.1.1);
//   - rejects what sipgo accepts but RFC 3261 forbids: a sip: Request-URI with headers
//     (§19.1.1, RFC 4475 §3.1.2.11), a Request-URI whose scheme is not sip, sips or tel
//     (416, §8.2.2.1; sipgo refuses to parse it at all), a CSeq method other than the
//     request's (compared exactly: sipgo upper-cases the request's method, §7.1 makes
//     methods case-sensitive), an unquoted display name that is not tokens (§25.1,
//     RFC 4475 §3.1.2.15), an addr-spec with headers outside <> (§20, §3.1.2.13),
//     Call-ID, CSeq, From, To or Max-Forwards more than once (§3.3.8), and
//     Content-Length given twice with different values (§3.3.9); a SIP version other
//     than 2.0 gets 505 and spaces inside the Request-URI 400 (§3.1.2.16, §3.1.2.8).
//
// It returns the bytes to parse (raw itself when nothing changed), or the status and
// reason to reject with. Only the header block is looked at; the body is kept as is.
// It faces the network and is fuzzed (FuzzVetMessage).
func vetMessage(raw []byte) ([]byte, int, string) {
	if vetClean(raw) {
		return raw, 0, "" // the ordinary message, known without the full pass (vetfast.go)
	}
	return vetFull(raw)
}

// vetFull is vetMessage's full pass.
func vetFull(raw []byte) ([]byte, int, string) {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		return raw, 0, ""
	}
	head, rest := string(raw[:end]), raw[end:]
	lines := unfold(strings.Split(head, "\r\n"))
	start := lines[0]
	request := !strings.HasPrefix(start, "SIP/")
	var method string
	if request {
		parts := strings.Split(start, " ")
		if last := parts[len(parts)-1]; len(parts) >= 3 && isToken(parts[0]) && strings.HasPrefix(last, "SIP/") {
			switch {
			case last != "SIP/2.0":
				return nil, 505, "Version Not Supported" // §8.2.2 ... RFC 4475 §3.1.2.16
			case len(parts) > 3:
				return nil, 400, "Malformed Request-Line" // LWS inside the Request-URI, §3.1.2.8
			}
		}
		if len(parts) == 3 && parts[0] != "" && parts[2] == "SIP/2.0" {
			method = parts[0]
			uri := parts[1]
			scheme, _, ok := strings.Cut(uri, ":")
			switch strings.ToLower(scheme) {
			case "sip", "sips":
				// The user part may hold "?" (§25.1 user-unreserved); headers come
				// after the host.
				if hostAndAfter := uri[strings.LastIndexByte(uri, '@')+1:]; strings.Contains(hostAndAfter, "?") {
					return nil, 400, "Request-URI Must Not Have Headers"
				}
			case "tel":
			default:
				if ok && isToken(scheme) {
					return nil, 416, "Unsupported URI Scheme"
				}
			}
		}
	}
	contentLength := ""
	single := map[string]bool{}
	changed := len(lines) != strings.Count(head, "\r\n")+1
	for i := 1; i < len(lines); i++ {
		name, value, ok := strings.Cut(lines[i], ":")
		if !ok {
			continue
		}
		key := strings.ToLower(strings.TrimSpace(name))
		if one := singleValued(key); one != "" {
			if single[one] {
				return nil, 400, "More Than One " + one + " Header"
			}
			single[one] = true
		}
		switch key {
		case "v", "via":
			value = tightenSeparators(value, "/;=,")
		case "f", "from", "t", "to":
			value = tightenSeparators(value, ";=")
			if !goodNameAddr(value) {
				return nil, 400, "Bad " + canonicalName(key) + " Header"
			}
		case "m", "contact", "route", "record-route":
			value = tightenSeparators(value, ";=")
			for _, v := range splitOutsideQuotes(value, ',') {
				if !goodNameAddr(v) {
					return nil, 400, "Bad " + canonicalName(key) + " Header"
				}
			}
		case "cseq":
			value = " " + strings.Join(strings.Fields(value), " ")
			if f := strings.Fields(value); request && method != "" && len(f) == 2 && f[1] != method {
				return nil, 400, "CSeq Method Does Not Match"
			}
		case "l", "content-length":
			v := strings.TrimSpace(value)
			if contentLength != "" && v != contentLength {
				return nil, 400, "Conflicting Content-Length"
			}
			contentLength = v
			continue
		default:
			continue
		}
		if line := name + ":" + value; line != lines[i] {
			lines[i] = line
			changed = true
		}
	}
	if !changed {
		return raw, 0, ""
	}
	out := make([]byte, 0, len(raw))
	out = append(out, strings.Join(lines, "\r\n")...)
	return append(out, rest...), 0, ""
}

// unfold joins continuation lines (starting with SP or HTAB) to the line before with
// one SP: RFC 3261 §7.3.1, LWS is equivalent to a single SP.
func unfold(lines []string) []string {
	out := lines[:1]
	for _, l := range lines[1:] {
		if (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) && len(out) > 1 {
			out[len(out)-1] = strings.TrimRight(out[len(out)-1], " \t") + " " + strings.TrimLeft(l, " \t")
			continue
		}
		out = append(out, l)
	}
	return out
}

// tightenSeparators collapses white space runs to one SP and drops it next to any of
// seps, outside quoted strings — except one SP after a comma, which sipgo's parser
// skips as it starts the next value of a list ("SIP/2.0/UDP a;branch=x, SIP/2.0/UDP
// b", the common way to write it). The value keeps its leading run of SPs (sipgo trims
// a value before parsing it, so "To:  <sip:bob@h>" is read as "To: <sip:bob@h>"), or
// gets one SP when it starts otherwise. A value with no white space inside is returned
// as it was.
//
// Leaving those two alone (issue #12) keeps SIPp's messages on vetClean's quick path:
// SIPp copies a header's value with its leading SP into "To: [$to]" and writes a
// response's Vias as "a, b", and each such message took the full pass (3–5 % of the
// pool's CPU in a park cycle).
func tightenSeparators(v, seps string) string {
	t := strings.TrimSpace(v)
	lead := leadingSP(v, t)
	if !strings.ContainsAny(t, " \t") {
		if len(v) == len(lead)+len(t) {
			return v
		}
		return lead + t
	}
	out := make([]byte, len(lead), len(lead)+len(t))
	copy(out, lead)
	n0 := len(lead)
	quoted, escaped, space := false, false, false
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case quoted:
			out = append(out, c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				quoted = false
			}
			continue
		case c == ' ' || c == '\t':
			space = true
			continue
		case strings.IndexByte(seps, c) >= 0:
			space = false
			for len(out) > n0 && out[len(out)-1] == ' ' {
				out = out[:len(out)-1]
			}
			out = append(out, c)
			continue
		}
		if space {
			if last := out[len(out)-1]; len(out) > n0 && (last == ',' || strings.IndexByte(seps, last) < 0) {
				out = append(out, ' ')
			}
			space = false
		}
		if c == '"' {
			quoted = true
		}
		out = append(out, c)
	}
	return string(out)
}

// leadingSP is the white space tightenSeparators keeps before a value v whose trimmed
// form is t: v's leading SPs when they are all that trimming took from its start, else
// one SP.
func leadingSP(v, t string) string {
	s := strings.TrimLeft(v, " ")
	if len(s) == len(v) || !strings.HasPrefix(s, t) {
		return " "
	}
	return v[:len(v)-len(s)]
}

// goodNameAddr checks one name-addr or addr-spec value (RFC 3261 §25.1): a display name
// is a quoted string or tokens, and an addr-spec outside <> has no headers ("?") —
// there the params would be the header's, and a "?" makes it ambiguous.
func goodNameAddr(v string) bool {
	v = strings.TrimSpace(v)
	lt := indexOutsideQuotes(v, '<')
	if lt < 0 {
		spec, _, _ := strings.Cut(v, ";")
		return !strings.Contains(spec, "?")
	}
	dn := strings.TrimSpace(v[:lt])
	if dn == "" || (strings.HasPrefix(dn, `"`) && strings.HasSuffix(dn, `"`) && len(dn) >= 2) {
		return true
	}
	for _, w := range strings.Fields(dn) {
		if !isToken(w) {
			return false
		}
	}
	return true
}

// eachOutsideQuotes calls f with the index of every byte of s that is outside a quoted
// string (and not a quote), and whether it is inside <>, until f returns false.
func eachOutsideQuotes(s string, f func(i int, angle bool) bool) {
	quoted, escaped, angle := false, false, false
	for i := 0; i < len(s); i++ {
		switch {
		case quoted && escaped:
			escaped = false
		case quoted && s[i] == '\\':
			escaped = true
		case s[i] == '"':
			quoted = !quoted
		case quoted:
		default:
			if !f(i, angle) {
				return
			}
			if s[i] == '<' {
				angle = true
			} else if s[i] == '>' {
				angle = false
			}
		}
	}
}

func indexOutsideQuotes(s string, c byte) int {
	at := -1
	eachOutsideQuotes(s, func(i int, _ bool) bool {
		if s[i] == c {
			at = i
			return false
		}
		return true
	})
	return at
}

// splitOutsideQuotes splits s at sep where it is neither quoted nor inside <>.
func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	from := 0
	eachOutsideQuotes(s, func(i int, angle bool) bool {
		if !angle && s[i] == sep {
			out = append(out, s[from:i])
			from = i + 1
		}
		return true
	})
	return append(out, s[from:])
}

// singleValued is the name of a header that a request may carry only once (RFC 3261
// §7.3.1 and §20, RFC 4475 §3.3.8), or "" for others.
func singleValued(key string) string {
	switch key {
	case "i", "call-id":
		return "Call-ID"
	case "cseq":
		return "CSeq"
	case "f", "from":
		return "From"
	case "t", "to":
		return "To"
	case "max-forwards":
		return "Max-Forwards"
	}
	return ""
}

func canonicalName(key string) string {
	switch key {
	case "f", "from":
		return "From"
	case "t", "to":
		return "To"
	case "m", "contact":
		return "Contact"
	case "route":
		return "Route"
	}
	return "Record-Route"
}

// branch2543 gives a request without an RFC 3261 branch (no "z9hG4bK" magic cookie,
// as RFC 2543 phones send, RFC 4475 §3.4.1) one derived from what §17.2.3 matches such
// requests by — Request-URI, From tag, Call-ID, CSeq number and the top Via's sent-by —
// so sipgo, which only matches by branch, keeps retransmissions in one transaction. It
// reports whether it changed the request.
func branch2543(req *sip.Request) bool {
	v := req.Via()
	if v == nil {
		return false
	}
	if b, _ := v.Params.Get("branch"); strings.HasPrefix(b, sip.RFC3261BranchMagicCookie) {
		return false
	}
	h := sha256.New()
	h.Write([]byte(req.Recipient.String()))
	if f := req.From(); f != nil {
		tag, _ := f.Params.Get("tag")
		h.Write([]byte("\x00" + tag))
	}
	if c := req.CallID(); c != nil {
		h.Write([]byte("\x00" + c.Value()))
	}
	if cs := req.CSeq(); cs != nil {
		h.Write([]byte("\x00" + strconv.FormatUint(uint64(cs.SeqNo), 10)))
	}
	h.Write([]byte("\x00" + v.SentBy()))
	if v.Params == nil {
		v.Params = sip.NewParams()
	}
	v.Params.Add("branch", sip.RFC3261BranchMagicCookie+"-2543-"+hex.EncodeToString(h.Sum(nil)[:8]))
	return true
}
