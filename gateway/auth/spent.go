package auth

import (
	"container/heap"
	"errors"
	"sync"
	"time"
)

// Errors a SpentStore returns.
var (
	// ErrReused says a single-use token was presented a second time.
	ErrReused = errors.New("auth: token already used")
	// ErrSpentFull says the store holds as many live IDs as it may: it refuses rather
	// than forget one early, which would let that token be used twice.
	ErrSpentFull = errors.New("auth: too many tokens in use; try again shortly")
)

// SpentStore remembers the IDs of single-use tokens (widget tickets) that were used,
// each until the token expires: after that, Verify refuses the token for its age and
// the ID need not be kept. It is an interface so several gateways can share one store
// (a database, Redis) in place of the in-memory one; TestSpentStoreContract is the
// contract every implementation must pass.
type SpentStore interface {
	// Spend records id as used until expires. It returns ErrReused when id was already
	// spent and has not expired, and ErrSpentFull when the store cannot take more.
	Spend(id string, expires time.Time) error
}

// DefaultMaxSpent bounds MemorySpent: a ticket lives a minute by default, so this is a
// sustained 1,600 widget sign-ins a second, at some 100 bytes each (about 10 MB).
const DefaultMaxSpent = 100_000

// MemorySpent is a SpentStore in one process's memory. Memory is bounded twice: an ID
// is forgotten once its token expires (a heap ordered by expiry finds those in
// O(log n)), and Max caps what may be held at once.
type MemorySpent struct {
	// Max is the most IDs held at once; zero means DefaultMaxSpent.
	Max int
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu    sync.Mutex // protects byID and order
	byID  map[string]time.Time
	order expiryHeap
}

var _ SpentStore = (*MemorySpent)(nil)

// Spend implements SpentStore.
func (m *MemorySpent) Spend(id string, expires time.Time) error {
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	max := m.Max
	if max <= 0 {
		max = DefaultMaxSpent
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byID == nil {
		m.byID = map[string]time.Time{}
	}
	m.forget(now)
	if _, ok := m.byID[id]; ok {
		return ErrReused
	}
	if !now.Before(expires) {
		// Already expired: nothing can present it again successfully, so there is
		// nothing to remember. (Callers verify expiry first; this keeps the bound.)
		return nil
	}
	if len(m.byID) >= max {
		return ErrSpentFull
	}
	m.byID[id] = expires
	heap.Push(&m.order, spentID{id: id, expires: expires})
	return nil
}

// Len is how many IDs are held (expired ones are dropped on the next Spend).
func (m *MemorySpent) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byID)
}

// forget drops every ID whose token has expired by now.
func (m *MemorySpent) forget(now time.Time) {
	for len(m.order) > 0 && !now.Before(m.order[0].expires) {
		delete(m.byID, heap.Pop(&m.order).(spentID).id)
	}
}

type spentID struct {
	id      string
	expires time.Time
}

// expiryHeap is a min-heap of spent IDs by expiry (container/heap.Interface).
type expiryHeap []spentID

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(spentID)) }
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
