package pool

import (
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// A Binding maps an address-of-record to one contact (RFC 3261 §10.3).
type Binding struct {
	Contact sip.Uri
	// Source is the address the REGISTER came from, kept for diagnostics.
	Source  string
	Expires time.Time
	CallID  string
	CSeq    uint32
	// Updated orders contacts: the proxy routes to the most recently refreshed one.
	Updated time.Time
	// seq breaks ties between bindings refreshed at the same instant.
	seq uint64
}

// BindingStore holds registrations. It is an interface because a pool pair with a shared
// database (Lync's back end) is a natural next step; the in-memory store is the only one
// today, and every store must pass the same contract test (TestBindingStoreContract).
type BindingStore interface {
	// Put replaces the binding for aor with the same contact key, or adds it.
	Put(aor string, b Binding)
	// Remove deletes one contact of aor.
	Remove(aor, contactKey string)
	// RemoveAll deletes every contact of aor.
	RemoveAll(aor string)
	// Get returns aor's live bindings at now, most recently updated first.
	Get(aor string, now time.Time) []Binding
	// Expire drops bindings that expired before now and says how many it dropped.
	Expire(now time.Time) int
	// Bound reports whether some live binding's contact is at addr (a missing port
	// being 5060): the proxy follows a Route header only to such an address, the peer
	// pool or the park service.
	Bound(addr netip.AddrPort, now time.Time) bool
}

var _ BindingStore = (*memoryBindings)(nil)

// memoryBindings is a BindingStore in a map guarded by one mutex; registrations are rare
// next to the work a REGISTER does (digest, parsing), so one lock is no bottleneck.
type memoryBindings struct {
	mu  sync.Mutex
	aor map[string]map[string]Binding // aor → contact key → binding
	seq uint64
}

func newMemoryBindings() *memoryBindings {
	return &memoryBindings{aor: map[string]map[string]Binding{}}
}

// contactKey identifies a contact for matching refreshes and removals. RFC 3261 §10.3
// step 7 compares contact URIs with §19.1.4 rules; scheme, user, host, port and transport
// are the parts phones actually vary.
func contactKey(u sip.Uri) string {
	tp, _ := u.UriParams.Get("transport")
	return u.Scheme + ":" + u.User + "@" + u.HostPort() + ";" + tp
}

func (m *memoryBindings) Put(aor string, b Binding) {
	m.mu.Lock()
	defer m.mu.Unlock()
	bs := m.aor[aor]
	if bs == nil {
		bs = map[string]Binding{}
		m.aor[aor] = bs
	}
	m.seq++
	b.seq = m.seq
	bs[contactKey(b.Contact)] = b
}

func (m *memoryBindings) Remove(aor, key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.aor[aor], key)
	if len(m.aor[aor]) == 0 {
		delete(m.aor, aor)
	}
}

func (m *memoryBindings) RemoveAll(aor string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.aor, aor)
}

func (m *memoryBindings) Get(aor string, now time.Time) []Binding {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Binding
	for _, b := range m.aor[aor] {
		if b.Expires.After(now) {
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Updated.Equal(out[j].Updated) {
			return out[i].Updated.After(out[j].Updated)
		}
		return out[i].seq > out[j].seq
	})
	return out
}

func (m *memoryBindings) Expire(now time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for aor, bs := range m.aor {
		for k, b := range bs {
			if !b.Expires.After(now) {
				delete(bs, k)
				n++
			}
		}
		if len(bs) == 0 {
			delete(m.aor, aor)
		}
	}
	return n
}

func (m *memoryBindings) Bound(addr netip.AddrPort, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, bs := range m.aor {
		for _, b := range bs {
			if b.Expires.After(now) && contactAddr(b.Contact) == addr {
				return true
			}
		}
	}
	return false
}

// contactAddr is the address a contact URI names; the zero AddrPort for a hostname
// (the registrar accepts IP addresses only).
func contactAddr(u sip.Uri) netip.AddrPort {
	ip, err := netip.ParseAddr(u.Host)
	if err != nil {
		return netip.AddrPort{}
	}
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(port))
}
