package tone

import "testing"

func TestGoertzelSeparatesTones(t *testing.T) {
	for _, pt := range []uint8{PCMU, PCMA} {
		g := NewGenerator(440, 0.5)
		d := NewDetector(400)
		buf := make([]byte, FrameSamples)
		for range 5 {
			d.Write(pt, g.Encode(buf, pt))
		}
		if p := d.Power(440); p < 0.9 {
			t.Errorf("pt %d: power at 440 Hz = %.3f, want > 0.9", pt, p)
		}
		if p := d.Power(660); p > 0.1 {
			t.Errorf("pt %d: power at 660 Hz = %.3f, want < 0.1", pt, p)
		}
	}
}

func TestSilenceIsNoTone(t *testing.T) {
	d := NewDetector(400)
	silence := make([]byte, 400)
	for i := range silence {
		silence[i] = 0xff // µ-law zero
	}
	d.Write(PCMU, silence)
	if d.Heard(440) {
		t.Fatal("heard a tone in silence")
	}
}

func TestDetectorNeedsFullWindow(t *testing.T) {
	d := NewDetector(400)
	d.Write(PCMU, NewGenerator(440, 0.5).Encode(make([]byte, 160), PCMU))
	if d.Full() || d.Heard(440) {
		t.Fatal("verdict before a full window")
	}
}
