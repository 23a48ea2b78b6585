package pool

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// salvageResponse builds a stateless error response to a request the SIP parser
// rejected, from the raw bytes alone. RFC 3261 §16.3 and §8.2 want a 400 for a malformed
// request, but a response can only be routed back if the request's Via, From, To, Call-ID
// and CSeq lines can be found (§8.2.6.2), so anything without a request line or a Via is
// dropped, exactly what §18.3 allows for an unparseable datagram. Responses are never
// answered. The result is nil when nothing should be sent.
//
// It faces the network and is fuzzed (FuzzSalvageResponse).
func salvageResponse(raw []byte, code int, reason string) []byte {
	const maxLine = 1024
	head := raw
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		head = raw[:i]
	}
	if len(head) > maxMessageSize {
		head = head[:maxMessageSize]
	}
	lines := strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n")
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:] // leading CRLFs are keep-alives (RFC 5626 §3.5.1)
	}
	if len(lines) == 0 || !isRequestLine(lines[0]) {
		return nil
	}
	var b strings.Builder
	b.WriteString("SIP/2.0 ")
	b.WriteString(itoa3(code))
	b.WriteString(" ")
	b.WriteString(reason)
	b.WriteString("\r\n")
	var via, cseq, toSeen bool
	for _, line := range lines[1:] {
		if len(line) > maxLine {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if value == "" || strings.ContainsAny(value, "\x00\r") {
			continue
		}
		switch name {
		case "via", "v":
			via = true
			b.WriteString("Via: " + value + "\r\n")
		case "from", "f":
			b.WriteString("From: " + value + "\r\n")
		case "to", "t":
			if toSeen {
				continue
			}
			toSeen = true
			if !strings.Contains(strings.ToLower(value), ";tag=") {
				// §8.2.6.2: a UAS adds a To tag to a final response.
				var t [6]byte
				rand.Read(t[:])
				value += ";tag=" + hex.EncodeToString(t[:])
			}
			b.WriteString("To: " + value + "\r\n")
		case "call-id", "i":
			b.WriteString("Call-ID: " + value + "\r\n")
		case "cseq":
			cseq = true
			b.WriteString("CSeq: " + value + "\r\n")
		}
	}
	if !via || !cseq || b.Len() > 8*maxLine {
		return nil
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}

// isRequestLine checks "Method SP Request-URI SP SIP-Version" loosely enough to answer
// a request whose other parts are broken — a Request-URI with spaces in it, another
// SIP version (answered 505). ACK is excluded: it is never answered (§17.2.1).
func isRequestLine(line string) bool {
	parts := strings.Fields(line)
	if len(parts) < 3 || !strings.HasPrefix(parts[len(parts)-1], "SIP/") || !isToken(parts[0]) || strings.EqualFold(parts[0], "ACK") {
		return false
	}
	return true
}

func itoa3(code int) string {
	if code < 100 || code > 699 {
		code = 400
	}
	return string([]byte{byte('0' + code/100), byte('0' + code/10%10), byte('0' + code%10)})
}
