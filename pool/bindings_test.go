package pool

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// runBindingStoreContract is what every BindingStore must do; a shared-database store
// would run the same function.
func runBindingStoreContract(t *testing.T, newStore func() BindingStore) {
	now := time.Unix(1_800_000_000, 0)
	c := func(port int) sip.Uri { return sip.Uri{Scheme: "sip", User: "alice", Host: "127.0.0.1", Port: port} }
	s := newStore()
	s.Put("alice", Binding{Contact: c(1), Expires: now.Add(time.Minute), Updated: now})
	s.Put("alice", Binding{Contact: c(2), Expires: now.Add(time.Hour), Updated: now.Add(time.Second)})
	s.Put("bob", Binding{Contact: c(3), Expires: now.Add(time.Hour), Updated: now})
	if got := s.Get("alice", now); len(got) != 2 || got[0].Contact.Port != 2 {
		t.Fatalf("Get = %+v, want port 2 first", got)
	}
	// Put with the same contact replaces.
	s.Put("alice", Binding{Contact: c(1), Expires: now.Add(2 * time.Hour), Updated: now.Add(2 * time.Second)})
	if got := s.Get("alice", now); len(got) != 2 || got[0].Contact.Port != 1 {
		t.Fatalf("after refresh Get = %+v, want port 1 first", got)
	}
	// Expired bindings are invisible before Expire removes them.
	if got := s.Get("alice", now.Add(90*time.Minute)); len(got) != 1 {
		t.Fatalf("Get after 90 min = %+v", got)
	}
	if n := s.Expire(now.Add(90 * time.Minute)); n != 2 {
		t.Fatalf("Expire removed %d, want 2 (alice:2, bob:3)", n)
	}
	s.Remove("alice", contactKey(c(1)))
	if got := s.Get("alice", now); len(got) != 0 {
		t.Fatalf("after Remove Get = %+v", got)
	}
	s.Put("bob", Binding{Contact: c(3), Expires: now.Add(time.Hour), Updated: now})
	s.RemoveAll("bob")
	if got := s.Get("bob", now); len(got) != 0 {
		t.Fatalf("after RemoveAll Get = %+v", got)
	}
}

func TestBindingStoreContract(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		runBindingStoreContract(t, func() BindingStore { return newMemoryBindings() })
	})
}
