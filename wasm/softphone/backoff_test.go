package softphone

import (
	"testing"
	"time"
)

func TestBackoffGrowsToTheCapWithJitter(t *testing.T) {
	low := func() float64 { return 0 }
	high := func() float64 { return 0.999999 }
	wantFull := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, full := range wantFull {
		n := i + 1
		if got := Backoff(n, low); got != full/2 {
			t.Errorf("attempt %d, no jitter: %v, want %v", n, got, full/2)
		}
		if got := Backoff(n, high); got < full*99/100 || got > full {
			t.Errorf("attempt %d, most jitter: %v, want about %v", n, got, full)
		}
	}
	for _, n := range []int{0, -3, 64, 1 << 30} {
		if got := Backoff(n, high); got <= 0 || got > backoffMax {
			t.Errorf("attempt %d: %v out of (0, %v]", n, got, backoffMax)
		}
	}
}
