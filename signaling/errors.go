package signaling

import (
	"errors"
	"strconv"
)

// ErrorCode names a class of error in the "error" message, so a client can act on it
// without parsing prose.
type ErrorCode string

// Error codes the decoder produces, then those the gateway adds.
const (
	CodeMalformed   ErrorCode = "malformed"           // not a JSON object of the envelope's shape
	CodeTooLarge    ErrorCode = "too-large"           // over MaxMessageSize
	CodeUnknownType ErrorCode = "unknown-type"        // a type this side does not accept
	CodeVersion     ErrorCode = "unsupported-version" // a protocol version we do not speak
	CodeBadField    ErrorCode = "bad-field"           // a field missing, unknown or out of range

	CodeUnauthorized ErrorCode = "unauthorized"   // no or bad session token
	CodeRefused      ErrorCode = "refused"        // the capability rule says no (Reason says why)
	CodeNoCall       ErrorCode = "no-call"        // the call the action names does not exist
	CodeNotFound     ErrorCode = "not-found"      // the user or number called does not exist
	CodeNoG711       ErrorCode = "no-g711"        // the browser's offer has no G.711: nothing to bridge without transcoding
	CodeUnavailable  ErrorCode = "unavailable"    // the gateway cannot do it now
	CodeInternal     ErrorCode = "internal"       // a fault on our side
	CodeRateLimited  ErrorCode = "rate-limited"   // more messages a second than a session may send; persisting closes it (1008)
	CodeTooManyCalls ErrorCode = "too-many-calls" // the user has as many calls going as the gateway allows
	CodeDraining     ErrorCode = "draining"       // the gateway is shutting down: no new calls; reconnect to another gateway
)

// Error is a typed signaling error. The gateway sends it back verbatim as an "error"
// message, with Ref set to the request's id, and the session carries on.
type Error struct {
	Code    ErrorCode `json:"code"`
	Field   string    `json:"field,omitempty"`
	Message string    `json:"message"`
	Ref     string    `json:"ref,omitempty"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return string(e.Code) + ": " + e.Field + ": " + e.Message
	}
	return string(e.Code) + ": " + e.Message
}

// Is makes errors.Is(err, ErrTooLarge) and friends match on the code alone.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code && t.Field == "" && t.Message == ""
}

// Sentinels for errors.Is.
var (
	ErrMalformed   = &Error{Code: CodeMalformed}
	ErrTooLarge    = &Error{Code: CodeTooLarge}
	ErrUnknownType = &Error{Code: CodeUnknownType}
	ErrVersion     = &Error{Code: CodeVersion}
	ErrBadField    = &Error{Code: CodeBadField}
)

func badField(field, message string) *Error {
	return &Error{Code: CodeBadField, Field: field, Message: message}
}

// quote and itoa word values in messages without fmt, which the wasm client leaves out
// (issue 12): quote(s) is fmt's %q of a string, itoa(n) its %d.
func quote(s string) string { return strconv.Quote(s) }
func itoa(n int) string     { return strconv.Itoa(n) }
