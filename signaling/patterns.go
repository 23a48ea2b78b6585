package signaling

// The shapes of the strings messages carry, checked by hand rather than with regexp:
// the client's WebAssembly build then leaves the regexp package out, which it would
// otherwise compile and initialise at every page load (issue #12). Each function's
// comment gives the pattern it matches; patterns_test.go holds them to it.

// validTarget: ^[A-Za-z0-9+*#][A-Za-z0-9._+*#-]{0,63}$ — a user name or a dialable
// number, what fits in a SIP URI's user part without escaping: a leading + for E.164,
// * and # for feature codes.
func validTarget(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	c := s[0]
	return (isAlnum(c) || c == '+' || c == '*' || c == '#') && all(s[1:], func(c byte) bool {
		return isAlnum(c) || c == '.' || c == '_' || c == '+' || c == '*' || c == '#' || c == '-'
	})
}

// validCallID: ^[A-Za-z0-9_-]{1,64}$.
func validCallID(s string) bool {
	return len(s) >= 1 && len(s) <= 64 && all(s, func(c byte) bool { return isAlnum(c) || c == '_' || c == '-' })
}

// ValidTrace reports whether s is what a trace id looks like: 16 to 32 lowercase hex
// digits (^[0-9a-f]{16,32}$).
func ValidTrace(s string) bool {
	return len(s) >= 16 && len(s) <= 32 && all(s, func(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' })
}

// all reports whether every byte of s is ok.
func all(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
