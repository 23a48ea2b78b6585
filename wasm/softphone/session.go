package softphone

import (
	"encoding/json"
	"strings"
	"time"
)

// Session is what the gateway issues in exchange for a demo user name: a signed, expiring
// token that the websocket's first frame presents.
type Session struct {
	Token     string `json:"token"`
	User      string `json:"user"`
	ExpiresAt Expiry `json:"expiresAt"`
}

// Expiry is the token's expiry as the gateway sends it: an RFC 3339 time, or Unix time
// in seconds or milliseconds. Anything else reads as "unknown", never as a failed
// sign-in: the gateway is the one that enforces expiry.
type Expiry struct{ time.Time }

func (e *Expiry) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		e.Time, _ = time.Parse(time.RFC3339Nano, s)
		return nil
	}
	var n float64
	if json.Unmarshal(b, &n) == nil && n > 0 {
		if n < 1e12 {
			e.Time = time.Unix(int64(n), 0)
		} else {
			e.Time = time.UnixMilli(int64(n))
		}
	}
	return nil
}

func (e Expiry) MarshalJSON() ([]byte, error) {
	if e.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(e.Time.Format(time.RFC3339Nano))
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

// ErrorText pulls a human sentence out of an HTTP error body, whichever of the usual
// shapes it has: {"message"}, {"error":"..."} or {"error":{"message"}}; else the status.
func ErrorText(body []byte, fallback string) string {
	var shapes struct {
		Message string          `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &shapes) == nil {
		if shapes.Message != "" {
			return shapes.Message
		}
		var s string
		if json.Unmarshal(shapes.Error, &s) == nil && s != "" {
			return s
		}
		var inner struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(shapes.Error, &inner) == nil && inner.Message != "" {
			return inner.Message
		}
	}
	if t := strings.TrimSpace(string(body)); t != "" && len(t) < 200 && !strings.HasPrefix(t, "<") {
		return t
	}
	return fallback
}
