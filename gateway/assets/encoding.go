package assets

import (
	"strconv"
	"strings"
)

// accepts reports whether an Accept-Encoding header allows coding (RFC 9110 §12.5.3):
// the coding (or, for gzip, x-gzip) or "*" with a non-zero quality, unless the coding
// itself is given q=0.
func accepts(header, coding string) bool {
	star, named := false, false
	for part := range strings.SplitSeq(header, ",") {
		c, params, _ := strings.Cut(part, ";")
		c = strings.ToLower(strings.TrimSpace(c))
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		switch {
		case c == coding || (coding == "gzip" && c == "x-gzip"):
			if q <= 0 {
				return false
			}
			named = true
		case c == "*":
			star = q > 0
		}
	}
	return named || star
}
