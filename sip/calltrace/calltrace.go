// Package calltrace is the per-call trace id every Parkway party carries in the SIP
// header X-Parkway-Trace (ARCHITECTURE.md §8): minted by the gateway
// for a call it places (or by the park service for a parked call that arrived without
// one), taken from an incoming request otherwise, copied onto every request sent about
// that call, and logged as the slog attribute "trace", so one grep follows a call
// through the gateway, the pools and the park service.
package calltrace

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/emiago/sipgo/sip"
)

// Header is the SIP header that carries the trace id.
const Header = "X-Parkway-Trace"

// Attr is the slog attribute name of the trace id in every log line about a call.
const Attr = "trace"

// New mints a trace id: 16 lowercase hex digits (64 random bits).
func New() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Valid reports whether id looks like a trace id: 16 to 32 lowercase hex digits, so a
// header from outside can neither flood a log line nor inject into it.
func Valid(id string) bool {
	if len(id) < 16 || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// From is the trace id a SIP message carries, or "" when it has none or a malformed one.
func From(m interface{ GetHeader(string) sip.Header }) string {
	if m == nil {
		return ""
	}
	h := m.GetHeader(Header)
	if h == nil {
		return ""
	}
	if id := h.Value(); Valid(id) {
		return id
	}
	return ""
}

// Set puts id on req, replacing any trace header it had; an invalid id (or "") is not
// added.
func Set(req *sip.Request, id string) {
	if !Valid(id) {
		return
	}
	req.RemoveHeader(Header)
	req.AppendHeader(sip.NewHeader(Header, id))
}
