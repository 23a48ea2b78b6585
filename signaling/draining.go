package signaling

// TypeDraining is the gateway's message that it is shutting down (Draining).
const TypeDraining Type = "draining"

func init() { registry[FromGateway][TypeDraining] = func() Message { return new(Draining) } }

// Draining says the gateway is shutting down: it takes no new calls (they are refused
// with the error code draining) and will close the websocket with 1012 (service
// restart) once its calls have ended or its drain timeout passes. A tab reconnects,
// with backoff, to whatever gateway the address then reaches.
type Draining struct {
	// DeadlineMillis is how long, at most, the gateway waits for calls before it
	// closes.
	DeadlineMillis int64 `json:"deadlineMs,omitempty"`
}

func (*Draining) Type() Type { return TypeDraining }
func (m *Draining) validate() *Error {
	if m.DeadlineMillis < 0 {
		return badField("deadlineMs", "is negative")
	}
	return nil
}
