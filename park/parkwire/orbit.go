package parkwire

import (
	"errors"
)

// OrbitRule is Lync's number pattern for orbits (New-CsCallParkOrbit), as
// error messages quote it: an optional * or # prefix and up to 8 digits, or
// up to 9 digits, never starting with 0.
const OrbitRule = `([*#]?[1-9]\d{0,7})|([1-9]\d{0,8})`

// ValidOrbit reports whether s is a well-formed orbit number: the whole of s matches
// OrbitRule. Checked by hand, not with regexp, so that the client's WebAssembly build
// leaves the regexp package out (issue #12); orbit_test.go holds it to the rule.
func ValidOrbit(s string) bool {
	digits, most := s, 9
	if s != "" && (s[0] == '*' || s[0] == '#') {
		digits, most = s[1:], 8
	}
	if len(digits) < 1 || len(digits) > most || digits[0] < '1' || digits[0] > '9' {
		return false
	}
	for i := 1; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

// OrbitPrefix is the * or # an orbit number starts with, or "".
func OrbitPrefix(s string) string {
	if s != "" && (s[0] == '*' || s[0] == '#') {
		return s[:1]
	}
	return ""
}

// Range is an orbit range, as CsCallParkOrbit's NumberRangeStart/End:
// both ends valid orbit numbers of the same length with the same prefix.
// A pool parks on its own ranges and routes its peer's to the peer.
type Range struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// The ways a Range breaks CsCallParkOrbit's rules.
var (
	ErrRangeStart    = errors.New("start is not an orbit number (" + OrbitRule + ")")
	ErrRangeEnd      = errors.New("end is not an orbit number (" + OrbitRule + ")")
	ErrRangePrefix   = errors.New("start and end must have the same prefix")
	ErrRangeLength   = errors.New("start and end must have the same length")
	ErrRangeReversed = errors.New("start is after end")
)

// Check returns nil for a well-formed range, or the first of the Err*
// errors it breaks.
func (r Range) Check() error {
	switch {
	case !ValidOrbit(r.Start):
		return ErrRangeStart
	case !ValidOrbit(r.End):
		return ErrRangeEnd
	case OrbitPrefix(r.Start) != OrbitPrefix(r.End):
		return ErrRangePrefix
	case len(r.Start) != len(r.End):
		return ErrRangeLength
	case r.Start > r.End: // same length and prefix: string order is numeric order
		return ErrRangeReversed
	}
	return nil
}

// Contains reports whether orbit is an orbit number inside the range.
func (r Range) Contains(orbit string) bool {
	return ValidOrbit(orbit) && len(orbit) == len(r.Start) && OrbitPrefix(orbit) == OrbitPrefix(r.Start) &&
		orbit >= r.Start && orbit <= r.End
}

// Overlaps reports whether two well-formed ranges share an orbit number.
func (r Range) Overlaps(o Range) bool {
	return len(r.Start) == len(o.Start) && OrbitPrefix(r.Start) == OrbitPrefix(o.Start) &&
		r.Start <= o.End && o.Start <= r.End
}
