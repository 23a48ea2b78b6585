package softphone

import (
	"math/rand/v2"
	"time"
)

// Reconnect delays: the first retry comes quickly (a gateway restart or a network blip
// is usually short), later ones slow down to at most backoffMax so a gateway that is
// down for long is not hammered by every open tab.
const (
	backoffBase = 250 * time.Millisecond
	backoffMax  = 5 * time.Second
)

// Backoff is the delay before reconnect attempt n (1-based): exponential from
// backoffBase, capped at backoffMax, with "equal jitter" — half of it fixed, half random
// (rnd returns [0,1)) — so tabs that lost the gateway together do not all return in the
// same instant, and none retries with no pause at all.
func Backoff(n int, rnd func() float64) time.Duration {
	if n < 1 {
		n = 1
	}
	d := backoffMax
	if n <= 16 { // past that, the shift would overflow long after the cap was reached
		if e := backoffBase << (n - 1); e < backoffMax {
			d = e
		}
	}
	half := d / 2
	return half + time.Duration(rnd()*float64(half))
}

func Jitter() float64 { return rand.Float64() }
