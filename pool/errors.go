package pool

import (
	"fmt"
	"strconv"
	"time"

	"github.com/emiago/sipgo/sip"
)

// sipError is an error that knows the SIP answer it deserves, so handlers decide once and
// respond in one place (the livekit/sip errors.go idea).
type sipError struct {
	Code       int
	Reason     string
	RetryAfter time.Duration
	// Headers are extra headers for the response, e.g. Min-Expires with 423.
	Headers []sip.Header
}

func (e *sipError) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Reason) }

func newSIPError(code int, reason string) *sipError { return &sipError{Code: code, Reason: reason} }

// response builds the answer to req.
func (e *sipError) response(req *sip.Request) *sip.Response {
	res := sip.NewResponseFromRequest(req, e.Code, e.Reason, nil)
	if e.RetryAfter > 0 {
		res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(int(e.RetryAfter.Round(time.Second)/time.Second))))
	}
	for _, h := range e.Headers {
		res.AppendHeader(h)
	}
	return res
}
