package softphone

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// digitsPattern is validDigits' rule as a regular expression: the tests' oracle.
var digitsPattern = regexp.MustCompile(`^[0-9*#A-Da-d]{1,32}$`)

// validDigits accepts exactly what its pattern does: every short string over the
// keypad's characters and their neighbours, random longer ones around the 32 limit.
func TestValidDigitsIsItsPattern(t *testing.T) {
	const alphabet = "09*#ADadEe/:@`+ \x00\xff"
	check := func(s string) {
		if got, want := validDigits(s), digitsPattern.MatchString(s); got != want {
			t.Fatalf("validDigits(%q) = %v; the pattern says %v", s, got, want)
		}
	}
	for _, a := range alphabet {
		check(string(a))
		for _, b := range alphabet {
			check(string(a) + string(b))
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, r.IntN(36))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		check(string(b))
	}
}

func FuzzValidDigits(f *testing.F) {
	f.Add("1#*9")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validDigits(s), digitsPattern.MatchString(s); got != want {
			t.Fatalf("validDigits(%q) = %v; the pattern says %v", s, got, want)
		}
	})
}
