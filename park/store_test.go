package park

import (
	"errors"
	"sync"
	"testing"

	"github.com/parkway/parkway/park/parkwire"
)

// testOrbitStore is the contract every OrbitStore must meet.
func testOrbitStore(t *testing.T, newStore func() OrbitStore) {
	ranges := []parkwire.Range{{Start: "7000", End: "7001"}, {Start: "*10", End: "*10"}}
	t.Run("claim first in order", func(t *testing.T) {
		s := newStore()
		for _, want := range []string{"7000", "7001", "*10"} {
			got, err := s.ClaimFirst(ranges)
			if err != nil || got != want {
				t.Fatalf("ClaimFirst = %q %v, want %s", got, err, want)
			}
		}
		if _, err := s.ClaimFirst(ranges); !errors.Is(err, ErrNoOrbitAvailable) {
			t.Fatalf("exhausted: %v", err)
		}
		s.Release("7001")
		if got, _ := s.ClaimFirst(ranges); got != "7001" {
			t.Fatalf("released orbit not reused: %q", got)
		}
	})
	t.Run("directed claim", func(t *testing.T) {
		s := newStore()
		if err := s.Claim("7001"); err != nil {
			t.Fatal(err)
		}
		if err := s.Claim("7001"); !errors.Is(err, ErrOrbitInUse) {
			t.Fatalf("double claim: %v", err)
		}
		if !s.Claimed("7001") || s.Claimed("7000") {
			t.Fatal("Claimed disagrees")
		}
		if got, _ := s.ClaimFirst(ranges); got != "7000" {
			t.Fatalf("ClaimFirst skipped to %q", got)
		}
		s.Release("7001")
		s.Release("7001") // idempotent
		if s.Claimed("7001") {
			t.Fatal("release did not free")
		}
	})
	t.Run("concurrent claims are exclusive", func(t *testing.T) {
		s := newStore()
		big := []parkwire.Range{{Start: "100", End: "149"}}
		var mu sync.Mutex
		seen := map[string]bool{}
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					o, err := s.ClaimFirst(big)
					if err != nil {
						return
					}
					mu.Lock()
					if seen[o] {
						t.Errorf("%s handed out twice", o)
					}
					seen[o] = true
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != 50 {
			t.Fatalf("%d orbits handed out, want 50", len(seen))
		}
	})
}

func TestMemoryOrbits(t *testing.T) {
	testOrbitStore(t, func() OrbitStore { return NewMemoryOrbits() })
}
