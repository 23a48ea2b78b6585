// Package transfer builds and parses the header values SIP call transfer is
// made of: the Refer-To of a REFER (RFC 3515 §2.1) with a Replaces header
// embedded as a URI header (RFC 3891 §3, RFC 3261 §19.1.1), and the
// message/sipfrag status line a transferee reports in NOTIFY (RFC 3515 §2.4.5).
//
// The park service uses it to hand a parked call to its retriever, test phones
// and the gateway use it to follow a REFER. It is pure string work with no I/O.
//
// It is one of Parkway's shared SIP helpers under sip/ (see sip/README.md).
package transfer

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Replaces identifies the dialog an INVITE takes over (RFC 3891 §6.1). The
// tags are seen from the recipient of that INVITE: ToTag is the recipient's
// own (local) tag, FromTag its peer's (remote) tag.
type Replaces struct {
	CallID    string
	ToTag     string
	FromTag   string
	EarlyOnly bool
}

// String renders the header value, e.g. "abc@h;to-tag=1;from-tag=2".
func (r Replaces) String() string {
	s := r.CallID + ";to-tag=" + r.ToTag + ";from-tag=" + r.FromTag
	if r.EarlyOnly {
		s += ";early-only"
	}
	return s
}

// Errors returned by the parsers. They wrap ErrMalformed so a handler can
// answer 400 without caring which part was bad.
var ErrMalformed = errors.New("malformed")

func malformed(what, v string) error {
	return fmt.Errorf("%w %s %q", ErrMalformed, what, truncate(v))
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// ParseReplaces parses a Replaces header value (RFC 3891 §6.1):
// callid *(SEMI (to-tag / from-tag / early-flag / generic-param)).
// Both tags are mandatory.
func ParseReplaces(v string) (Replaces, error) {
	var r Replaces
	parts := strings.Split(strings.TrimSpace(v), ";")
	r.CallID = strings.TrimSpace(parts[0])
	if r.CallID == "" || strings.ContainsAny(r.CallID, " \t\r\n<>\"") {
		return Replaces{}, malformed("Replaces call-id", v)
	}
	var haveTo, haveFrom bool
	for _, p := range parts[1:] {
		name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "to-tag":
			r.ToTag, haveTo = strings.TrimSpace(val), true
		case "from-tag":
			r.FromTag, haveFrom = strings.TrimSpace(val), true
		case "early-only":
			r.EarlyOnly = true
		}
	}
	if !haveTo || !haveFrom || r.ToTag == "" || r.FromTag == "" {
		return Replaces{}, malformed("Replaces tags", v)
	}
	return r, nil
}

// ReferTo is a parsed Refer-To value: where to send the INVITE and the
// headers to put in it (only Replaces is understood; RFC 3515 §2.1 lets a
// referrer embed others, which we ignore as RFC 3261 §19.1.5 allows).
type ReferTo struct {
	Target   sip.Uri
	Replaces *Replaces
}

// FormatReferTo renders a Refer-To value for target, with Replaces embedded
// as an escaped URI header when r is not nil.
func FormatReferTo(target sip.Uri, r *Replaces) string {
	t := target.Clone()
	t.Headers = nil
	s := "<" + t.String()
	if r != nil {
		s += "?Replaces=" + escapeHeader(r.String())
	}
	return s + ">"
}

// escapeHeader escapes a URI header value (RFC 3261 §25.1 hvalue): anything
// outside hnv-unreserved / unreserved is %-encoded.
func escapeHeader(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("-_.!~*'()[]/:+$", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// ParseReferTo parses a Refer-To header value: a name-addr or addr-spec
// whose URI may carry ?Replaces=... (RFC 3515 §2.1, RFC 3891 §3).
func ParseReferTo(v string) (ReferTo, error) {
	s := strings.TrimSpace(v)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			return ReferTo{}, malformed("Refer-To", v)
		}
		s = s[i+1 : i+j]
	} else if i := strings.IndexByte(s, ';'); i >= 0 {
		// addr-spec form: header params follow, and a URI here cannot
		// carry '?' headers unambiguously; RFC 3515 requires <> then.
		s = s[:i]
	}
	base, hdrs, _ := strings.Cut(s, "?")
	var rt ReferTo
	if base == "" {
		return ReferTo{}, malformed("Refer-To", v)
	}
	if err := sip.ParseUri(base, &rt.Target); err != nil {
		return ReferTo{}, fmt.Errorf("%w Refer-To uri %q: %v", ErrMalformed, truncate(base), err)
	}
	if rt.Target.Scheme != "sip" && rt.Target.Scheme != "sips" {
		return ReferTo{}, malformed("Refer-To scheme", v)
	}
	if !validHost(rt.Target.Host) || strings.ContainsAny(rt.Target.User, " \t\r\n<>\"?;") {
		return ReferTo{}, malformed("Refer-To host", v)
	}
	rt.Target.Headers = nil
	for _, h := range strings.Split(hdrs, "&") {
		if h == "" {
			continue
		}
		name, val, _ := strings.Cut(h, "=")
		if !strings.EqualFold(name, "Replaces") {
			continue
		}
		dec, err := url.PathUnescape(val)
		if err != nil {
			return ReferTo{}, malformed("Refer-To Replaces escape", v)
		}
		r, err := ParseReplaces(dec)
		if err != nil {
			return ReferTo{}, err
		}
		rt.Replaces = &r
	}
	return rt, nil
}

// validHost accepts hostnames, IPv4 and bracketed IPv6 (RFC 3261 §25.1
// host); sipgo's URI parser is lenient, we are not.
func validHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(".-[]:", c) >= 0) {
			return false
		}
	}
	return true
}

// ParseSipfrag returns the status code of a message/sipfrag body's first
// line, e.g. "SIP/2.0 200 OK" → 200 (RFC 3420 §2, RFC 3515 §2.4.5).
func ParseSipfrag(body []byte) (int, error) {
	line, _, _ := strings.Cut(string(body), "\n")
	line = strings.TrimRight(line, "\r")
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(f[0], "SIP/") {
		return 0, malformed("sipfrag", line)
	}
	code, err := strconv.Atoi(f[1])
	if err != nil || code < 100 || code > 699 {
		return 0, malformed("sipfrag status", line)
	}
	return code, nil
}

// Sipfrag renders the status line a transferee sends in NOTIFY.
func Sipfrag(code int, reason string) []byte {
	return []byte(fmt.Sprintf("SIP/2.0 %d %s\r\n", code, reason))
}
