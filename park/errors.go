package park

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
)

// Error is a Call Park failure that knows its SIP answer: the status code,
// and a diagnostic in the style of Lync's ms-diagnostics header so a client
// can tell "orbit not found" from "no orbit available" without parsing
// reason phrases.
type Error struct {
	Status     int    // SIP status code of the answer
	Diagnostic int    // ms-diagnostics-style code, stable for clients
	Text       string // human text, also the Warning header's text
	RetryAfter int    // seconds; >0 adds Retry-After (RFC 3261 §20.33)
	Orbit      string // the orbit concerned, when there is one
}

func (e *Error) Error() string {
	if e.Orbit != "" {
		return fmt.Sprintf("park: %s (orbit %s)", e.Text, e.Orbit)
	}
	return "park: " + e.Text
}

// Is makes errors.Is match on the diagnostic, so callers compare against
// the sentinels below whatever orbit the error carries.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Diagnostic == e.Diagnostic
}

// Sentinels for errors.Is. Diagnostic codes start at 13000 (Parkway's own
// block), one per distinct answer the design asks for.
var (
	ErrOrbitNotFound    = &Error{Status: 404, Diagnostic: 13001, Text: "Orbit not found"}
	ErrNoOrbitAvailable = &Error{Status: 480, Diagnostic: 13002, Text: "No orbit available"}
	ErrOrbitInUse       = &Error{Status: 486, Diagnostic: 13003, Text: "Orbit already in use (double park)"}
	ErrParkTimeExpired  = &Error{Status: 408, Diagnostic: 13004, Text: "Park time expired"}
	ErrDraining         = &Error{Status: 503, Diagnostic: 13005, Text: "Call park is draining", RetryAfter: 30}
	ErrNotParkable      = &Error{Status: 488, Diagnostic: 13006, Text: "No acceptable G.711 audio offered"}
	ErrRetrieveFailed   = &Error{Status: 480, Diagnostic: 13007, Text: "Parked party did not accept the transfer"}
	ErrParkedHungUp     = &Error{Status: 487, Diagnostic: 13008, Text: "Parked party hung up"}
	ErrRetrieveBusy     = &Error{Status: 486, Diagnostic: 13009, Text: "Parked call is being retrieved by someone else"}
	// ErrRepark refuses a re-park (parkwire.ParkedSinceHeader) this service may
	// not take: survivable park is off, the INVITE did not come through its own
	// pool's proxy, or the time is not a past RFC 3339 time within the longest
	// pickup timeout.
	ErrRepark = &Error{Status: 403, Diagnostic: 13010, Text: "Re-park not accepted"}
)

func (e *Error) withOrbit(orbit string) *Error {
	c := *e
	c.Orbit = orbit
	return &c
}

// headers are what an answer carrying e adds: ms-diagnostics, Warning
// (RFC 3261 §20.43, code 399 "miscellaneous") and Retry-After.
func (e *Error) headers(source string) []sip.Header {
	h := []sip.Header{
		sip.NewHeader("ms-diagnostics", fmt.Sprintf("%d;reason=%q;source=%q", e.Diagnostic, e.Text, source)),
		sip.NewHeader("Warning", fmt.Sprintf("399 %s %q", source, e.Text)),
	}
	if e.Orbit != "" {
		h = append(h, sip.NewHeader(parkwire.OrbitHeader, e.Orbit))
	}
	if e.RetryAfter > 0 {
		h = append(h, sip.NewHeader("Retry-After", strconv.Itoa(e.RetryAfter)))
	}
	return h
}

// reasonHeader renders e as an RFC 3326 Reason for a BYE.
func (e *Error) reasonHeader() sip.Header {
	return sip.NewHeader("Reason", fmt.Sprintf("SIP;cause=%d;text=%q", e.Status, e.Text))
}

// asError maps any error to the park Error it stands for; anything else
// (a store backend failing) is a 500.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: 500, Diagnostic: 13000, Text: "Internal error"}
}
