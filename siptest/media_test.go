package siptest

import (
	"math"
	"testing"
)

func tone(freq float64, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/sampleRate))
	}
	return out
}

func TestRelativePower(t *testing.T) {
	x := tone(440, goertzelBlock)
	if l := relativePower(x, 440); l < 0.8 {
		t.Errorf("440 Hz tone scores %.2f at 440", l)
	}
	for _, f := range []float64{660, 1000, 1200} {
		if l := relativePower(x, f); l > 0.1 {
			t.Errorf("440 Hz tone scores %.2f at %v", l, f)
		}
	}
	if l := relativePower(make([]int16, goertzelBlock), 440); l != 0 {
		t.Errorf("silence scores %.2f", l)
	}
}
