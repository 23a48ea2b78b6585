package auth

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// clock is a settable time for stores under test: nothing here sleeps.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// runSpentStoreContract is what every SpentStore must do; newStore makes a fresh one
// that reads time from clk and holds at most max IDs.
func runSpentStoreContract(t *testing.T, newStore func(clk *clock, max int) SpentStore) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	t.Run("once", func(t *testing.T) {
		clk := &clock{now: t0}
		s := newStore(clk, 10)
		if err := s.Spend("a", t0.Add(time.Minute)); err != nil {
			t.Fatalf("first spend: %v", err)
		}
		if err := s.Spend("a", t0.Add(time.Minute)); !errors.Is(err, ErrReused) {
			t.Errorf("second spend: %v, want ErrReused", err)
		}
		clk.advance(59 * time.Second)
		if err := s.Spend("a", t0.Add(time.Minute)); !errors.Is(err, ErrReused) {
			t.Errorf("spend just before expiry: %v, want ErrReused", err)
		}
		if err := s.Spend("b", t0.Add(time.Minute)); err != nil {
			t.Errorf("another id: %v", err)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		clk := &clock{now: t0}
		s := newStore(clk, 3)
		for i := range 3 {
			if err := s.Spend(fmt.Sprint(i), t0.Add(time.Duration(i+1)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Spend("x", t0.Add(time.Minute)); !errors.Is(err, ErrSpentFull) {
			t.Errorf("spend beyond max: %v, want ErrSpentFull", err)
		}
		// Once the first has expired its slot is free; the other two are still held.
		clk.advance(time.Second)
		if err := s.Spend("x", t0.Add(time.Minute)); err != nil {
			t.Errorf("spend after an expiry: %v", err)
		}
		if err := s.Spend("1", t0.Add(2*time.Second)); !errors.Is(err, ErrReused) {
			t.Errorf("unexpired id forgotten: %v", err)
		}
	})
	t.Run("expired is not kept", func(t *testing.T) {
		clk := &clock{now: t0}
		s := newStore(clk, 1)
		if err := s.Spend("old", t0.Add(-time.Second)); err != nil {
			t.Errorf("expired id: %v", err)
		}
		if err := s.Spend("new", t0.Add(time.Second)); err != nil {
			t.Errorf("an expired id took the only slot: %v", err)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		s := newStore(&clock{now: t0}, 100)
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for range 16 {
			wg.Go(func() {
				if s.Spend("same", t0.Add(time.Minute)) == nil {
					mu.Lock()
					won++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if won != 1 {
			t.Errorf("%d concurrent spends of one id succeeded, want 1", won)
		}
	})
}

func TestSpentStoreContract(t *testing.T) {
	runSpentStoreContract(t, func(clk *clock, max int) SpentStore {
		return &MemorySpent{Max: max, Now: clk.Now}
	})
}

func TestMemorySpentForgets(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := &MemorySpent{Now: clk.Now}
	for i := range 1000 {
		if err := s.Spend(fmt.Sprint(i), clk.now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	clk.advance(time.Minute)
	s.Spend("last", clk.Now().Add(time.Minute))
	if n := s.Len(); n != 1 {
		t.Errorf("%d ids held after their tokens expired, want 1", n)
	}
}
