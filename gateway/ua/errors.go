package ua

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/parkway/parkway/sip/audiosdp"
)

// Sentinel errors a *StatusError matches with errors.Is, so the gateway can say
// "not found" or "busy" without knowing SIP status codes.
var (
	ErrNotFound    = errors.New("not found")   // 404, 604 (RFC 3261 §21.4.5, §21.6.4)
	ErrBusy        = errors.New("busy")        // 486, 600
	ErrDeclined    = errors.New("declined")    // 603
	ErrUnavailable = errors.New("unavailable") // 480, 503
	ErrNoCodec     = audiosdp.ErrNoCodec       // 488 / an SDP without PCMU or PCMA
	ErrCallEnded   = errors.New("call ended")
	ErrSignedOut   = errors.New("signed out")
	ErrNotActive   = errors.New("call is not established")
)

// StatusError is a final non-2xx answer to a request this gateway sent.
type StatusError struct {
	Method string
	Code   int
	Reason string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("%s: %d %s", e.Method, e.Code, e.Reason)
	if k := e.kind(); k != nil {
		s = fmt.Sprintf("%s: %v (%d %s)", e.Method, k, e.Code, e.Reason)
	}
	return s
}

func (e *StatusError) kind() error {
	switch e.Code {
	case 404, 604:
		return ErrNotFound
	case 486, 600:
		return ErrBusy
	case 603:
		return ErrDeclined
	case 480, 503:
		return ErrUnavailable
	case 488, 606:
		return ErrNoCodec
	}
	return nil
}

// Is lets errors.Is(err, ErrNotFound) and friends match by status class.
func (e *StatusError) Is(target error) bool { return target != nil && e.kind() == target }

// RedirectError names the users Redirect could not register at the pool.
type RedirectError struct {
	Pool   string
	Failed map[string]error // user → why
}

func (e *RedirectError) Error() string {
	names := make([]string, 0, len(e.Failed))
	for n := range e.Failed {
		names = append(names, n)
	}
	sort.Strings(names)
	const show = 5
	var b strings.Builder
	fmt.Fprintf(&b, "ua: redirect to %s: %d user(s) not registered:", e.Pool, len(names))
	for i, n := range names {
		if i == show {
			fmt.Fprintf(&b, " and %d more", len(names)-show)
			break
		}
		fmt.Fprintf(&b, " %s (%v);", n, e.Failed[n])
	}
	return strings.TrimSuffix(b.String(), ";")
}

// statusText is the reason phrase we send with a final answer (RFC 3261 §21).
func statusText(code int) string {
	switch code {
	case 404:
		return "Not Found"
	case 480:
		return "Temporarily Unavailable"
	case 486:
		return "Busy Here"
	case 488:
		return "Not Acceptable Here"
	case 600:
		return "Busy Everywhere"
	case 603:
		return "Decline"
	}
	return "Declined"
}
