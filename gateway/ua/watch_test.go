package ua

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/parkway/parkway/pool"
	"github.com/parkway/parkway/signaling"
)

// listRecorder keeps what a Watcher reported.
type listRecorder struct {
	mu    sync.Mutex
	lists []ParkedList
}

func (r *listRecorder) add(l ParkedList) {
	r.mu.Lock()
	r.lists = append(r.lists, l)
	r.mu.Unlock()
}

func (r *listRecorder) last() (ParkedList, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lists) == 0 {
		return ParkedList{}, 0
	}
	return r.lists[len(r.lists)-1], len(r.lists)
}

func TestParkedCallsWatcher(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	m := newManager(t, ps.config(demoUsers))
	ctx := testCtx(t)
	var rec listRecorder
	w, err := m.WatchParked(ctx, "", rec.add)
	if err != nil {
		t.Fatalf("WatchParked: %v", err)
	}
	eventually(t, "first NOTIFY", func() bool { l, n := rec.last(); return n > 0 && l.Pool == "pool-a" })

	// Park a call: the list shows it, with its orbit; retrieve it: the list empties.
	_, _, ac, bc, _, _ := callPair(t, m)
	orbit, err := ac.Park(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the parked call listed", func() bool {
		l, _ := rec.last()
		return len(l.Parked) == 1 && l.Parked[0].Orbit == orbit
	})
	if l := w.List(); len(l.Parked) != 1 || l.Event == nil || l.Event.Call.Orbit != orbit {
		t.Fatalf("List() = %+v", l)
	}
	carol := signIn(t, m, "carol")
	cc, err := carol.Dial(ctx, orbit, newTestLeg(t, 880))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the list empties after the retrieve", func() bool {
		l, _ := rec.last()
		return len(l.Parked) == 0 && l.Event != nil && l.Event.Call.State == "retrieved"
	})
	_ = cc.Hangup(ctx)
	<-bc.Done()

	// Redirect: the watcher follows the users to pool-b and sees pool-b's orbits.
	if err := m.Redirect(ctx, "pool-b"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "watching pool-b", func() bool { l, _ := rec.last(); return l.Pool == "pool-b" })
	alice := m.User("alice")
	_, _, ac2, _, _, _ := func() (*User, *User, *Call, *Call, *testLeg, *testLeg) {
		bob := m.User("bob")
		bl := newTestLeg(t, 660)
		go func() {
			if _, err := nextIncoming(t, bob).Answer(ctx, bl); err != nil {
				t.Errorf("answer: %v", err)
			}
		}()
		c, err := alice.Dial(ctx, "bob", newTestLeg(t, 440))
		if err != nil {
			t.Fatal(err)
		}
		return alice, bob, c, nil, nil, bl
	}()
	orbit, err = ac2.Park(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if orbit != "8000" {
		t.Fatalf("parked on pool-b at %q, want 8000", orbit)
	}
	eventually(t, "pool-b's parked call listed", func() bool {
		l, _ := rec.last()
		return l.Pool == "pool-b" && len(l.Parked) == 1 && l.Parked[0].Orbit == "8000"
	})
	nextEvent(t, alice, signaling.CallEnded, "parked")
	w.Close()
}

// TestWatcherRefreshAndPoolRestart: the subscription is refreshed before it expires,
// and when the pool restarts (its park service forgot us) the watcher subscribes again.
func TestWatcherRefreshAndPoolRestart(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	cfg := ps.config(demoUsers)
	cfg.WatchExpires = 2 * time.Second
	m := newManager(t, cfg)
	ctx := testCtx(t)
	var rec listRecorder
	w, err := m.WatchParked(ctx, "pool-a", rec.add)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// Several lifetimes later, still subscribed: a park shows up.
	time.Sleep(5 * time.Second)
	ps.a.Stop()
	if err := ps.a.Start(context.Background()); err != nil {
		// The demo pools' ports lie outside the ephemeral range: nothing takes them.
		t.Fatalf("pool-a could not rebind its port: %v", err)
	}
	_, _, ac, _, _, _ := callPair(t, m)
	orbit, err := ac.Park(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the park listed after the restart", func() bool {
		l, _ := rec.last()
		return len(l.Parked) == 1 && l.Parked[0].Orbit == orbit
	})
}
