package signaling

import (
	"errors"
	"strings"
)

// plainWebsocketURL is CheckGatewayURL without net/url, for the wasm client: it takes
// ws:// or wss://, a host name (letters, digits, - . _ ~), an IPv4 address or an IPv6
// one in brackets, an optional port, and the path /ws — the URLs a gateway's cluster
// lists (GatewayWebsocket's). It accepts nothing net/url's check refuses, and refuses
// spellings a cluster has no use for that net/url lets through (an upper-case scheme,
// an escaped path, an IPv6 zone, an empty ? or #); gateways_test.go holds it to that.
func plainWebsocketURL(s string) error {
	bad := errors.New(quote(s) + ": want ws[s]://host[:port]/ws and nothing more")
	rest, ok := strings.CutPrefix(s, "ws://")
	if !ok {
		if rest, ok = strings.CutPrefix(s, "wss://"); !ok {
			if strings.Contains(s, "://") {
				return errors.New(quote(s) + ": the scheme must be ws or wss")
			}
			return bad
		}
	}
	hostport, ok := strings.CutSuffix(rest, "/ws")
	if !ok {
		return bad
	}
	host, port := hostport, ""
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 || !ipv6Literal(hostport[1:end]) {
			return bad
		}
		host, port = hostport[:end+1], hostport[end+1:]
	} else if i := strings.IndexByte(hostport, ':'); i >= 0 {
		host, port = hostport[:i], hostport[i:]
		if host == "" || !all(host, func(c byte) bool { return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' }) {
			return bad
		}
	} else if host == "" || !all(host, func(c byte) bool { return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' }) {
		return bad
	}
	if port != "" && (len(port) < 2 || len(port) > 6 || port[0] != ':' || !all(port[1:], isDigit)) {
		return bad
	}
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// ipv6Literal says whether s is an IPv6 address in RFC 4291 §2.2's text forms: eight
// groups of 1–4 hex digits, "::" once for one or more groups of zeros, the last two
// groups perhaps written as an IPv4 address (no leading zeros in its numbers).
func ipv6Literal(s string) bool {
	head, tail, elided := strings.Cut(s, "::")
	if elided && strings.Contains(tail, "::") {
		return false
	}
	groups := 0
	count := func(part string, last bool) bool {
		if part == "" {
			return true
		}
		fields := strings.Split(part, ":")
		for i, f := range fields {
			if last && i == len(fields)-1 && strings.Contains(f, ".") {
				if !ipv4Literal(f) {
					return false
				}
				groups += 2
				continue
			}
			if len(f) < 1 || len(f) > 4 || !all(f, isHex) {
				return false
			}
			groups++
		}
		return true
	}
	if !count(head, !elided) || !count(tail, true) {
		return false
	}
	if elided {
		return groups < 8
	}
	return groups == 8
}

// ipv4Literal: four decimal numbers 0–255 without leading zeros, dot-separated.
func ipv4Literal(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if len(p) < 1 || len(p) > 3 || !all(p, isDigit) || (len(p) > 1 && p[0] == '0') {
			return false
		}
		n := 0
		for i := 0; i < len(p); i++ {
			n = n*10 + int(p[i]-'0')
		}
		if n > 255 {
			return false
		}
	}
	return true
}
