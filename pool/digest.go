package pool

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Digest authentication as SIP uses it: RFC 3261 §22.4 on top of RFC 2617, with the
// SHA-256 algorithm added by RFC 8760 (which points at RFC 7616 for the computation).

// digestAlgorithms are the algorithms this pool understands, most preferred first.
// RFC 8760 §2.4: a UAS that offers several challenges lists them in preference order.
var digestAlgorithms = []string{"SHA-256", "MD5"}

// maxAuthHeader bounds the Authorization value we are willing to parse; real phones send
// a few hundred bytes.
const maxAuthHeader = 4096

// digestCredentials is one parsed Authorization (or Proxy-Authorization) value.
type digestCredentials struct {
	Username  string
	Realm     string
	Nonce     string
	URI       string
	Response  string
	Algorithm string
	CNonce    string
	QOP       string
	NC        string
	Opaque    string
}

var errNotDigest = errors.New("authorization scheme is not Digest")

// parseDigestCredentials parses an Authorization header value of the Digest scheme
// (RFC 7616 §3.4 / RFC 3261 §25.1 "credentials"). It faces the network, so it is strict
// about size and syntax, and fuzzed (FuzzParseDigestCredentials).
func parseDigestCredentials(v string) (digestCredentials, error) {
	var c digestCredentials
	if len(v) > maxAuthHeader {
		return c, fmt.Errorf("authorization header of %d bytes exceeds %d", len(v), maxAuthHeader)
	}
	v = strings.TrimSpace(v)
	scheme, rest, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Digest") {
		return c, errNotDigest
	}
	seen := map[string]bool{}
	for {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			break
		}
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return c, fmt.Errorf("auth-param without '=' near %q", clip(rest))
		}
		name := strings.ToLower(strings.TrimSpace(rest[:eq]))
		if !isToken(name) {
			return c, fmt.Errorf("bad auth-param name %q", clip(name))
		}
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var val string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			closed := false
			for ; i < len(rest); i++ {
				ch := rest[i]
				if ch == '\\' && i+1 < len(rest) {
					i++
					b.WriteByte(rest[i])
					continue
				}
				if ch == '"' {
					closed = true
					break
				}
				b.WriteByte(ch)
			}
			if !closed {
				return c, fmt.Errorf("unterminated quoted value for %q", name)
			}
			val = b.String()
			rest = rest[i+1:]
		} else {
			end := strings.IndexAny(rest, ", \t")
			if end < 0 {
				end = len(rest)
			}
			val = rest[:end]
			rest = rest[end:]
			if !isToken(val) {
				return c, fmt.Errorf("bad token value %q for %q", clip(val), name)
			}
		}
		if seen[name] {
			// RFC 7616 §3.4: each directive at most once; a duplicate is an attack or a bug.
			return c, fmt.Errorf("duplicate auth-param %q", name)
		}
		seen[name] = true
		switch name {
		case "username":
			c.Username = val
		case "realm":
			c.Realm = val
		case "nonce":
			c.Nonce = val
		case "uri":
			c.URI = val
		case "response":
			c.Response = val
		case "algorithm":
			c.Algorithm = val
		case "cnonce":
			c.CNonce = val
		case "qop":
			c.QOP = val
		case "nc":
			c.NC = val
		case "opaque":
			c.Opaque = val
		}
		rest = strings.TrimLeft(rest, " \t")
		if rest != "" && rest[0] != ',' {
			return c, fmt.Errorf("expected ',' near %q", clip(rest))
		}
	}
	for _, f := range []struct{ name, v string }{
		{"username", c.Username}, {"realm", c.Realm}, {"nonce", c.Nonce}, {"uri", c.URI}, {"response", c.Response},
	} {
		if f.v == "" {
			return c, fmt.Errorf("missing %s", f.name)
		}
	}
	if c.Algorithm == "" {
		c.Algorithm = "MD5" // RFC 2617 §3.2.1: absent means MD5.
	}
	if c.QOP != "" && (c.QOP != "auth" || c.CNonce == "" || c.NC == "") {
		return c, fmt.Errorf("qop %q needs cnonce and nc and only auth is offered", clip(c.QOP))
	}
	return c, nil
}

func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// isToken reports whether s is a non-empty RFC 3261 §25.1 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9':
		case strings.IndexByte("-.!%*_+`'~", ch) >= 0:
		default:
			return false
		}
	}
	return true
}

func digestHash(algorithm string) (func() hash.Hash, bool) {
	switch strings.ToUpper(algorithm) {
	case "MD5":
		return md5.New, true
	case "SHA-256":
		return sha256.New, true
	}
	return nil, false
}

func hexHash(newHash func() hash.Hash, parts ...string) string {
	h := newHash()
	h.Write([]byte(strings.Join(parts, ":")))
	return hex.EncodeToString(h.Sum(nil))
}

// digestExpected computes the response a phone that knows user's password must send
// (RFC 7616 §3.4.1, or RFC 2069 form when qop is absent). For a user stored as an HA1
// hash, that hash is the first step (RFC 2617 §3.2.2.2), so only MD5 can be checked.
func digestExpected(c digestCredentials, method string, user User) (string, error) {
	newHash, ok := digestHash(c.Algorithm)
	if !ok {
		return "", fmt.Errorf("unsupported algorithm %q", clip(c.Algorithm))
	}
	ha1 := user.HA1
	if ha1 == "" {
		ha1 = hexHash(newHash, c.Username, c.Realm, user.Password)
	} else if !strings.EqualFold(c.Algorithm, "MD5") {
		return "", fmt.Errorf("user %q is stored as an MD5 HA1: %s cannot be checked", clip(c.Username), clip(c.Algorithm))
	}
	ha2 := hexHash(newHash, method, c.URI)
	if c.QOP == "" {
		return hexHash(newHash, ha1, c.Nonce, ha2), nil
	}
	return hexHash(newHash, ha1, c.Nonce, c.NC, c.CNonce, c.QOP, ha2), nil
}

// digestMatches compares in constant time so the response does not leak by timing.
func digestMatches(c digestCredentials, method string, user User) bool {
	want, err := digestExpected(c, method, user)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(c.Response)), []byte(want)) == 1
}

// parseNonceCount reads nc, exactly 8 hex digits (RFC 7616 §3.4: nc-value = 8LHEX).
func parseNonceCount(v string) (uint64, bool) {
	if len(v) != 8 {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 16, 32)
	return n, err == nil
}

// digestURIMatches reports whether the credentials' uri names the request's Request-URI
// (RFC 2617 §3.2.2.5, RFC 7616 §3.4.6: otherwise 400). Phones copy the Request-URI, so
// the strings are normally equal; otherwise both are compared as SIP URIs (RFC 3261
// §19.1.4): scheme and host case-insensitively, user and port exactly, and parameters
// as §19.1.4 says.
func digestURIMatches(credURI string, reqURI sip.Uri) bool {
	if credURI == reqURI.String() {
		return true
	}
	var u sip.Uri
	if err := sip.ParseUri(credURI, &u); err != nil {
		return false
	}
	if !strings.EqualFold(u.Scheme, reqURI.Scheme) || u.User != reqURI.User || u.Password != reqURI.Password ||
		!strings.EqualFold(u.Host, reqURI.Host) || u.Port != reqURI.Port {
		return false
	}
	// A parameter in both must match; user, ttl, method and maddr must also be in both
	// or neither; others in only one are ignored (sipgo's clients, for one, leave the
	// Request-URI's parameters out of uri).
	for _, kv := range u.UriParams {
		if b, ok := reqURI.UriParams.Get(kv.K); ok && !strings.EqualFold(kv.V, b) {
			return false
		}
	}
	for _, name := range []string{"user", "ttl", "method", "maddr"} {
		_, aok := u.UriParams.Get(name)
		_, bok := reqURI.UriParams.Get(name)
		if aok != bok {
			return false
		}
	}
	return true
}

// digestChallenge renders one WWW-Authenticate value.
func digestChallenge(realm, nonce, algorithm string, stale bool) string {
	s := fmt.Sprintf(`Digest realm=%q, nonce=%q, algorithm=%s, qop="auth"`, realm, nonce, algorithm)
	if stale {
		s += ", stale=true"
	}
	return s
}
