package signaling

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// The hand-written checks against the patterns their comments give (the oracle).
var patterns = []struct {
	name    string
	check   func(string) bool
	pattern *regexp.Regexp
	// valid: characters the pattern takes; others: their ASCII neighbours and
	// non-ASCII bytes. A string is drawn from valid alone or from both, and may get
	// one character of others put in.
	valid, others string
	longest       int
}{
	{"validTarget", validTarget, regexp.MustCompile(`^[A-Za-z0-9+*#][A-Za-z0-9._+*#-]{0,63}$`), "azAZ09+*#._-", "/:@[`{ \x00\x80é", 70},
	{"validCallID", validCallID, regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`), "azAZ09_-", "./:@[`{+ \x00é", 70},
	{"ValidTrace", ValidTrace, regexp.MustCompile(`^[0-9a-f]{16,32}$`), "0123456789abcdef", "gAF/:` ", 36},
}

func TestChecksAreTheirPatterns(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, p := range patterns {
		check := func(s string) {
			if got, want := p.check(s), p.pattern.MatchString(s); got != want {
				t.Fatalf("%s(%q) = %v; the pattern says %v", p.name, s, got, want)
			}
		}
		check("")
		all := p.valid + p.others
		for range 50000 {
			b := make([]byte, r.IntN(p.longest+1))
			from := p.valid
			if r.IntN(3) == 0 {
				from = all
			}
			for i := range b {
				b[i] = from[r.IntN(len(from))]
			}
			if len(b) > 0 && r.IntN(3) == 0 {
				b[r.IntN(len(b))] = p.others[r.IntN(len(p.others))]
			}
			check(string(b))
		}
	}
}

func FuzzChecksAreTheirPatterns(f *testing.F) {
	f.Add("alice")
	f.Add("0123456789abcdef")
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range patterns {
			if got, want := p.check(s), p.pattern.MatchString(s); got != want {
				t.Fatalf("%s(%q) = %v; the pattern says %v", p.name, s, got, want)
			}
		}
	})
}
