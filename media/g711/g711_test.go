package g711

import "testing"

// Round trips must stay within one quantisation step of the segment the
// sample falls in; a wrong segment search shows up as a large error.
func TestRoundTrip(t *testing.T) {
	for s := -32768; s <= 32767; s += 7 {
		in := int16(s)
		for name, rt := range map[string]func(int16) int16{
			"ulaw": func(v int16) int16 { return DecodeUlaw(EncodeUlaw(v)) },
			"alaw": func(v int16) int16 { return DecodeAlaw(EncodeAlaw(v)) },
		} {
			out := rt(in)
			diff := int(out) - int(in)
			if diff < 0 {
				diff = -diff
			}
			mag := int(in)
			if mag < 0 {
				mag = -mag
			}
			// G.711 step is at most 1/16 of the segment, i.e. ~6.25% + small floor.
			if diff > mag/12+140 {
				t.Fatalf("%s: %d -> %d (diff %d)", name, in, out, diff)
			}
		}
	}
}

// Known code points from G.711: silence and full scale.
func TestKnownValues(t *testing.T) {
	if got := EncodeUlaw(0); got != 0xff {
		t.Errorf("EncodeUlaw(0) = %#x, want 0xff", got)
	}
	if got := EncodeAlaw(0); got != 0xd5 {
		t.Errorf("EncodeAlaw(0) = %#x, want 0xd5", got)
	}
	if got := DecodeUlaw(0x80); got != 32124 {
		t.Errorf("DecodeUlaw(0x80) = %d, want 32124", got)
	}
	if got := DecodeAlaw(0xaa); got != 32256 {
		t.Errorf("DecodeAlaw(0xaa) = %d, want 32256", got)
	}
}
