package pool

import (
	"errors"
)

// Orbit numbers follow Lync's CsCallParkOrbit rule (DESIGN.md §3): a number matching
// ([*#]?[1-9]\d{0,7})|([1-9]\d{0,8}), and a range's start and end have the same length and
// prefix. The park service validates its own ranges; the pool needs the same rule to know
// which numbers belong to its peer.

// ParkUser is the Request-URI user of the park service itself (the "park access number").
const ParkUser = "park"

// splitOrbit returns the optional */# prefix and the numeric part, or ok=false.
func splitOrbit(s string) (prefix string, digits string, ok bool) {
	if s == "" {
		return "", "", false
	}
	if s[0] == '*' || s[0] == '#' {
		prefix, s = s[:1], s[1:]
	}
	max := 9
	if prefix != "" {
		max = 8
	}
	if len(s) == 0 || len(s) > max || s[0] < '1' || s[0] > '9' {
		return "", "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", "", false
		}
	}
	return prefix, s, true
}

func checkRange(r Range) error {
	ps, ds, ok1 := splitOrbit(r.Start)
	pe, de, ok2 := splitOrbit(r.End)
	switch {
	case !ok1:
		return errors.New("start is not an orbit number ([*#]?[1-9]\\d{0,7} or [1-9]\\d{0,8})")
	case !ok2:
		return errors.New("end is not an orbit number ([*#]?[1-9]\\d{0,7} or [1-9]\\d{0,8})")
	case ps != pe:
		return errors.New("start and end must have the same prefix")
	case len(ds) != len(de):
		return errors.New("start and end must have the same length")
	case ds > de: // same length, so string order is numeric order
		return errors.New("start is after end")
	}
	return nil
}

func rangesOverlap(a, b Range) bool {
	pa, sa, _ := splitOrbit(a.Start)
	pb, sb, _ := splitOrbit(b.Start)
	_, ea, _ := splitOrbit(a.End)
	_, eb, _ := splitOrbit(b.End)
	if pa != pb || len(sa) != len(sb) {
		return false
	}
	return sa <= eb && sb <= ea
}
