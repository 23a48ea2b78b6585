package assets

import (
	"strconv"
	"strings"
)

// acceptsGzip reports whether an Accept-Encoding header allows gzip (RFC 9110 §12.5.3):
// "gzip" or "*" with a non-zero quality, unless gzip itself is given q=0.
func acceptsGzip(header string) bool {
	star, gz := false, false
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		switch coding {
		case "gzip", "x-gzip":
			if q <= 0 {
				return false
			}
			gz = true
		case "*":
			star = q > 0
		}
	}
	return gz || star
}
