package parkwire

import (
	"errors"
	"testing"
)

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
