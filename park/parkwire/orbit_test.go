package parkwire

import (
	"errors"
	"math/rand/v2"
	"regexp"
	"testing"
)

// orbitPattern is OrbitRule as a regular expression over a whole string: ValidOrbit's
// oracle.
var orbitPattern = regexp.MustCompile(`^(?:` + OrbitRule + `)$`)

// ValidOrbit accepts exactly what OrbitRule does.
func TestValidOrbitIsTheRule(t *testing.T) {
	const valid, others = "0123456789", "*#+a/: \x00٧"
	r := rand.New(rand.NewPCG(5, 6))
	for range 50000 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = valid[r.IntN(len(valid))]
		}
		if len(b) > 0 && r.IntN(2) == 0 {
			b[r.IntN(min(len(b), 2))] = others[r.IntN(len(others))]
		}
		if got, want := ValidOrbit(string(b)), orbitPattern.MatchString(string(b)); got != want {
			t.Fatalf("ValidOrbit(%q) = %v; OrbitRule says %v", b, got, want)
		}
	}
}

func FuzzValidOrbit(f *testing.F) {
	f.Add("*7000")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidOrbit(s), orbitPattern.MatchString(s); got != want {
			t.Fatalf("ValidOrbit(%q) = %v; OrbitRule says %v", s, got, want)
		}
	})
}

func TestValidOrbit(t *testing.T) {
	for _, ok := range []string{"7000", "1", "*12345678", "#9", "123456789"} {
		if !ValidOrbit(ok) {
			t.Errorf("%q rejected", ok)
		}
	}
	for _, bad := range []string{"", "0", "0700", "*0", "1234567890", "*123456789", "**1", "7a", "+7000", "#", "٧٠٠٠"} {
		if ValidOrbit(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRangeCheck(t *testing.T) {
	for _, tc := range []struct {
		r    Range
		want error
	}{
		{Range{Start: "7000", End: "7099"}, nil},
		{Range{Start: "*100", End: "*100"}, nil},
		{Range{Start: "0700", End: "7099"}, ErrRangeStart},
		{Range{Start: "7000", End: "x"}, ErrRangeEnd},
		{Range{Start: "*700", End: "#799"}, ErrRangePrefix},
		{Range{Start: "700", End: "7099"}, ErrRangeLength},
		{Range{Start: "7099", End: "7000"}, ErrRangeReversed},
	} {
		if err := tc.r.Check(); !errors.Is(err, tc.want) {
			t.Errorf("%+v.Check() = %v, want %v", tc.r, err, tc.want)
		}
	}
}

func TestRangeContainsOverlaps(t *testing.T) {
	r := Range{Start: "*100", End: "*199"}
	for orbit, want := range map[string]bool{"*100": true, "*150": true, "*199": true, "*200": false,
		"150": false, "#150": false, "*1500": false, "*099": false} {
		if got := r.Contains(orbit); got != want {
			t.Errorf("%+v.Contains(%q) = %v", r, orbit, got)
		}
	}
	for o, want := range map[Range]bool{
		{Start: "*150", End: "*250"}: true,
		{Start: "*050", End: "*100"}: true,
		{Start: "*200", End: "*299"}: false,
		{Start: "#100", End: "#199"}: false,
		{Start: "100", End: "199"}:   false,
	} {
		if r.Overlaps(o) != want || o.Overlaps(r) != want {
			t.Errorf("%+v overlaps %+v: want %v", r, o, want)
		}
	}
}

func FuzzOrbitPrefix(f *testing.F) {
	f.Add("*7000")
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidOrbit(s) {
			return
		}
		if p := OrbitPrefix(s); !(Range{Start: s, End: s}).Contains(s) || len(s)-len(p) > 9 {
			t.Fatalf("valid orbit %q: prefix %q, not in its own range", s, p)
		}
	})
}
