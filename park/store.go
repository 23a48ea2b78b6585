package park

import (
	"sync"

	"github.com/parkway/parkway/park/parkwire"
)

// OrbitStore hands out orbits. The service keeps its live calls itself;
// the store only says which numbers are taken, so that a backend shared by
// several park services (a pool pair, a cluster) can implement it later
// without touching call handling. Every implementation must pass
// testOrbitStore (store_test.go).
type OrbitStore interface {
	// Claim takes orbit; ErrOrbitInUse if it is taken.
	Claim(orbit string) error
	// ClaimFirst takes the lowest free orbit of the first range that has
	// one; ErrNoOrbitAvailable when all are taken.
	ClaimFirst(ranges []parkwire.Range) (string, error)
	// Release frees orbit; freeing a free orbit does nothing.
	Release(orbit string)
	// Claimed reports whether orbit is taken.
	Claimed(orbit string) bool
}

// MemoryOrbits is the in-process OrbitStore, the default: one per Start, so
// a crash (Stop) forgets every claim as a real crash would.
type MemoryOrbits struct {
	mu    sync.Mutex
	taken map[string]struct{}
}

var _ OrbitStore = (*MemoryOrbits)(nil)

// NewMemoryOrbits returns an empty store.
func NewMemoryOrbits() *MemoryOrbits { return &MemoryOrbits{taken: map[string]struct{}{}} }

func (m *MemoryOrbits) Claim(orbit string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.taken[orbit]; ok {
		return ErrOrbitInUse.withOrbit(orbit)
	}
	m.taken[orbit] = struct{}{}
	return nil
}

func (m *MemoryOrbits) ClaimFirst(ranges []parkwire.Range) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	taken := func(o string) bool { _, ok := m.taken[o]; return ok }
	for _, r := range ranges {
		if o, ok := firstFree(r, taken); ok {
			m.taken[o] = struct{}{}
			return o, nil
		}
	}
	return "", ErrNoOrbitAvailable
}

func (m *MemoryOrbits) Release(orbit string) {
	m.mu.Lock()
	delete(m.taken, orbit)
	m.mu.Unlock()
}

func (m *MemoryOrbits) Claimed(orbit string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.taken[orbit]
	return ok
}
