package softphone

import (
	"strings"
	"time"
)

// Session is what the gateway issues in exchange for a demo user name: a signed, expiring
// token that the websocket's first frame presents.
type Session struct {
	Token     string
	User      string
	ExpiresAt Expiry
}

// Expiry is the token's expiry as the gateway sends it: an RFC 3339 time, or Unix time
// in seconds or milliseconds. Anything else reads as "unknown", never as a failed
// sign-in: the gateway is the one that enforces expiry.
type Expiry struct{ time.Time }

// ExpiryOf reads an expiry from a JSON value as the page's JSON.parse gives it to Go:
// a string (RFC 3339) or a number (float64, Unix seconds or milliseconds); anything
// else is unknown. The client parses JSON with the browser's parser, not encoding/json,
// which with the reflect and fmt it brings would grow main.wasm by a quarter (issue 12).
func ExpiryOf(v any) Expiry {
	switch v := v.(type) {
	case string:
		t, _ := time.Parse(time.RFC3339Nano, v)
		return Expiry{t}
	case float64:
		switch {
		case v <= 0:
		case v < 1e12:
			return Expiry{time.Unix(int64(v), 0)}
		default:
			return Expiry{time.UnixMilli(int64(v))}
		}
	}
	return Expiry{}
}

// String is the expiry as ExpiryOf reads it back: RFC 3339, or "" when unknown.
func (e Expiry) String() string {
	if e.IsZero() {
		return ""
	}
	return e.Time.Format(time.RFC3339Nano)
}

// expiringSoon is how close to its expiry a stored token is no longer worth presenting:
// a reconnect with it would be refused a moment later.
const expiringSoon = 30 * time.Second

// Usable reports whether s can still be presented at now.
func (s Session) Usable(now time.Time) bool {
	if s.Token == "" {
		return false
	}
	return s.ExpiresAt.IsZero() || now.Add(expiringSoon).Before(s.ExpiresAt.Time)
}

// ErrorBody is what ErrorText looks at in an HTTP error body: its text, and, when it is
// a JSON object (read by the page's JSON.parse), the sentence in whichever of the usual
// shapes it has — {"message"}, {"error":"..."} or {"error":{"message"}} — each "" when
// absent or not a string.
type ErrorBody struct {
	Text         string
	Message      string
	Error        string
	ErrorMessage string
}

// ErrorText pulls a human sentence out of an HTTP error body; else its text when it is
// short and not HTML; else fallback (the status text).
func ErrorText(b ErrorBody, fallback string) string {
	for _, s := range []string{b.Message, b.Error, b.ErrorMessage} {
		if s != "" {
			return s
		}
	}
	if t := strings.TrimSpace(b.Text); t != "" && len(t) < 200 && !strings.HasPrefix(t, "<") {
		return t
	}
	return fallback
}
