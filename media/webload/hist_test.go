package webload

import (
	"testing"
	"time"
)

func TestHistogramQuantilesAreBucketUpperBoundsCappedAtTheMax(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != 0 {
		t.Fatal("an empty histogram has a p50")
	}
	for range 98 {
		h.add(1234 * time.Microsecond) // bucket [1.23 ms, 1.24 ms)
	}
	h.add(55 * time.Millisecond)  // [55.0, 55.1) ms
	h.add(250 * time.Millisecond) // [250, 251) ms
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 1240 * time.Microsecond},
		{0.98, 1240 * time.Microsecond},
		{0.99, 55100 * time.Microsecond},
		{1, 250 * time.Millisecond}, // the bucket's bound (251 ms) capped at the largest seen
	} {
		if got := h.quantile(c.q); got != c.want {
			t.Errorf("q%.2f = %v, want %v", c.q, got, c.want)
		}
	}
	if h.max() != 250*time.Millisecond {
		t.Errorf("max %v", h.max())
	}
	h.add(10 * time.Second) // past the last bound: the last bucket
	if got := h.quantile(1); got != 4*time.Second {
		t.Errorf("q1 with a 10 s round trip = %v, want the last bound, 4s", got)
	}
	h.reset()
	if h.quantile(0.99) != 0 || h.max() != 0 {
		t.Error("reset left numbers behind")
	}
}

func TestBucketsAreContiguous(t *testing.T) {
	// Every bucket's upper bound is the next one's first value.
	for i := 0; i < 5800; i++ {
		if got := bucketOf(upper(i)); got != i+1 {
			t.Fatalf("bucketOf(upper(%d) = %v) = %d, want %d", i, upper(i), got, i+1)
		}
		if got := bucketOf(upper(i) - time.Microsecond); got != i {
			t.Fatalf("bucketOf(upper(%d) - 1 µs) = %d", i, got)
		}
	}
}
