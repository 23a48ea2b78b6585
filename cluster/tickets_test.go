package cluster

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/parkway/parkway/gateway/auth"
)

// TestTicketRacedOnTwoGateways: the same ticket spent on two gateways at once is
// accepted exactly once.
func TestTicketRacedOnTwoGateways(t *testing.T) {
	t.Parallel()
	owner := startNode(t, Config{Name: "gw1"})
	ctx := context.Background()
	var stores []*Tickets
	for _, n := range []*Node{owner, sharedNode(t, owner, "gw2")} {
		ts, err := NewTickets(ctx, n, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, ts)
	}
	for round := range 20 {
		id := "0123456789abcdef" + string(rune('a'+round))
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() { errs[i] = stores[i%2].Spend(id, time.Now().Add(time.Minute)) })
		}
		wg.Wait()
		accepted := 0
		for _, err := range errs {
			switch {
			case err == nil:
				accepted++
			case !errors.Is(err, auth.ErrReused):
				t.Fatalf("spend: %v", err)
			}
		}
		if accepted != 1 {
			t.Fatalf("round %d: ticket accepted %d times; want once", round, accepted)
		}
	}
	if err := stores[0].Spend("not a key!", time.Now()); err == nil {
		t.Fatal("a ticket id that is not a key was accepted")
	}
}

// TestSessionKeyShared: every gateway gets the same key, made once.
func TestSessionKeyShared(t *testing.T) {
	t.Parallel()
	owner := startNode(t, Config{Name: "gw1"})
	k1, err := SessionKey(context.Background(), owner)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := SessionKey(context.Background(), sharedNode(t, owner, "gw2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != 32 || !bytes.Equal(k1, k2) {
		t.Fatalf("keys %x and %x; want the same 32 bytes", k1, k2)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{NATS: []string{"nats://127.0.0.1:4222"}, Listen: "127.0.0.1:6222"},
		{Routes: []string{"127.0.0.1:6222"}},
		{Listen: "127.0.0.1"},
		{Listen: "127.0.0.1:6222", Routes: []string{"nohost"}},
		{NATS: []string{"::"}},
		{Name: "a.b"},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: accepted; want an error", c)
		}
	}
	if err := (Config{Listen: "127.0.0.1:6222", Routes: []string{"127.0.0.1:6223"}}).Validate(); err != nil {
		t.Errorf("clustered config refused: %v", err)
	}
}
