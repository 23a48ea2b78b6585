package cluster

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/signaling"
)

// adopter is a gateway's Dialogs whose Adopt hook only records what it was given.
type adopter struct {
	d   *Dialogs
	mu  sync.Mutex
	got []ua.DialogRecord
}

func (a *adopter) adopted() []ua.DialogRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]ua.DialogRecord(nil), a.got...)
}

func startDialogs(tb testing.TB, g *gw) *adopter {
	tb.Helper()
	a := &adopter{}
	var err error
	// No claim by a gateway other than the successor within the test: which gateway
	// adopts is then the successor rule's alone, whatever the machine's load.
	a.d, err = NewDialogs(g.node, g.d, DialogsConfig{Logger: quietLogger(), ClaimDelay: time.Hour, Adopt: func(_ context.Context, rec ua.DialogRecord) error {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.got = append(a.got, rec)
		return nil
	}})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.d.Run(ctx); err != nil {
			tb.Error(err)
		}
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	return a
}

// TestDialogsAdoptedOnceBySuccessor: the calls of a gateway that stopped reporting are
// adopted exactly once, by the next live gateway by name, and their records go; a
// gateway adopts the records a former life of its own left behind. (That a live
// gateway's calls are left alone is not asserted here: on a starved machine a live
// gateway's report can go stale, which is exactly what death looks like.)
func TestDialogsAdoptedOnceBySuccessor(t *testing.T) {
	t.Parallel()
	p := newPools(t)
	owner := startNode(t, Config{Name: "gw1"})
	nodes := []*Node{owner, sharedNode(t, owner, "gw2"), sharedNode(t, owner, "gw3")}
	var gws []*gw
	for _, n := range nodes {
		gws = append(gws, startDR(t, n, p.config("")))
	}
	a2, a3 := startDialogs(t, gws[1]), startDialogs(t, gws[2])
	for _, g := range gws {
		g.waitStarted("both pools healthy", bothHealthy)
	}
	rec := ua.DialogRecord{ID: "c0ffee", User: "alice", State: signaling.CallActive, CallID: "x@y", LocalURI: "sip:alice@pool-a",
		LocalTag: "a", RemoteURI: "sip:bob@pool-a", RemoteTag: "b", RemoteTarget: "sip:bob@127.0.0.1:5060", RemoteRTP: "127.0.0.1:4000", Payload: ua.PayloadPCMU}
	octx, ocancel := context.WithTimeout(context.Background(), waitLimit)
	kv, err := owner.Bucket(octx, bucketDialogs, 0)
	ocancel()
	if err != nil {
		t.Fatal(err)
	}
	put := func(gateway, instance string, r ua.DialogRecord) {
		b, _ := json.Marshal(dialogEntry{Gateway: gateway, Instance: instance, Record: r})
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if _, err := kv.Put(ctx, dialogPrefix+gateway+"."+r.ID, b); err != nil {
			t.Fatal(err)
		}
	}
	put("gw1", "i1", rec)
	gws[0].stop() // gw1 stops reporting: dead
	waitUntil(t, "gw2 (gw1's successor) adopts the call", func() bool { return len(a2.adopted()) == 1 })
	if got := a2.adopted()[0]; got.ID != rec.ID || got.CallID != rec.CallID {
		t.Fatalf("adopted %+v", got)
	}
	waitUntil(t, "the orphan's record and claim deleted", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		l, err := kv.ListKeys(ctx)
		if err != nil {
			return false
		}
		n := 0
		for range l.Keys() {
			n++
		}
		return n == 0
	})

	// A record gw2 wrote in a former life (another instance) is gw2's to adopt now.
	old := rec
	old.ID = "beef"
	put("gw2", "former-life", old)
	waitUntil(t, "gw2 adopts its former life's call", func() bool { return len(a2.adopted()) == 2 })
	time.Sleep(DefaultScanEvery * 5) // a second adoption would come within a few scans
	if len(a3.adopted()) != 0 || len(a2.adopted()) != 2 {
		t.Fatalf("adoptions: gw2 %d, gw3 %d; want 2 and 0", len(a2.adopted()), len(a3.adopted()))
	}
}

func TestSuccessor(t *testing.T) {
	for _, c := range []struct {
		live       []string
		dead, want string
	}{
		{[]string{"gw2", "gw3"}, "gw1", "gw2"},
		{[]string{"gw3", "gw1"}, "gw2", "gw3"},
		{[]string{"gw1", "gw2"}, "gw3", "gw1"},
		{nil, "gw1", ""},
	} {
		if got := successor(c.live, c.dead); got != c.want {
			t.Errorf("successor(%v, %s) = %q, want %q", c.live, c.dead, got, c.want)
		}
	}
}
