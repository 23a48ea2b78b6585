package signaling

import "time"

// TypeReauth is gateway → client: the session's token expires soon.
const TypeReauth Type = "reauth"

func init() { registry[FromGateway][TypeReauth] = func() Message { return new(Reauth) } }

// Reauth asks a signed-in tab for a fresh token: the gateway sends it once per token,
// shortly before the token expires (ARCHITECTURE.md §7). The tab answers with an auth
// message carrying a new token for the same user — the gateway then answers welcome and
// the session goes on — or, by Deadline, the gateway sends an unauthorized error saying
// the token expired and closes the session with 1008.
type Reauth struct {
	// Deadline is when the session's token expires (RFC 3339, UTC).
	Deadline time.Time `json:"deadline"`
}

func (*Reauth) Type() Type { return TypeReauth }
func (m *Reauth) validate() *Error {
	if m.Deadline.IsZero() {
		return badField("deadline", "is required: when the session's token expires")
	}
	return nil
}
