// Package integration_test runs the DR controller against the real pool package (not
// drtest's responder): the OPTIONS health of pool/health.go, its Stop and Start, and the
// 503 it answers while draining. It lives in its own directory so that the controller's
// own tests build whatever state pool/ is in.
package integration_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/internal/freeport"
	"github.com/parkway/parkway/pool"
	"github.com/parkway/parkway/signaling"
)

func startPool(t *testing.T, name, orbits string) *pool.Pool {
	t.Helper()
	lo, hi, _ := strings.Cut(orbits, "-")
	// A port outside the kernel's ephemeral range: pool-a is stopped and started again
	// on it, and no other test's socket may take it meanwhile.
	port, err := freeport.UDPAndTCP("127.0.0.1", freeport.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pool.New(pool.Config{Name: name, Listen: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Park: pool.ParkConfig{Orbits: []pool.Range{{Start: lo, End: hi}}}},
		pool.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })
	return p
}

func TestControllerWithRealPools(t *testing.T) {
	a, b := startPool(t, "pool-a", "7000-7099"), startPool(t, "pool-b", "8000-8099")
	c, err := dr.New(dr.Config{
		Home:   dr.Pool{Name: "pool-a", SIPAddr: a.Addr()},
		Backup: dr.Pool{Name: "pool-b", SIPAddr: b.Addr()},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	snaps := make(chan dr.Snapshot, 1024)
	defer c.Subscribe(func(s dr.Snapshot) { snaps <- s })()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// waitFor bounds the wait so a broken controller fails rather than hangs; it asserts
	// no timing.
	waitFor := func(what string, ok func(dr.Snapshot) bool) dr.Snapshot {
		t.Helper()
		limit := time.After(30 * time.Second)
		for {
			select {
			case s := <-snaps:
				if ok(s) {
					return s
				}
			case <-limit:
				t.Fatalf("waiting for %s: %+v", what, c.Snapshot())
			}
		}
	}
	health := func(i int, want bool) func(dr.Snapshot) bool {
		return func(s dr.Snapshot) bool { return s.Pools[i].Healthy == want }
	}

	waitFor("both healthy", func(s dr.Snapshot) bool { return s.Pools[0].Healthy && s.Pools[1].Healthy })

	stopped := time.Now()
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor("outage", func(s dr.Snapshot) bool { return s.Phase == signaling.PhaseOutage })
	t.Logf("real pool stop → outage published: %v", time.Since(stopped))
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor("pool-a healthy again", health(0, true))

	b.Drain()
	s := waitFor("draining pool-b unhealthy", health(1, false))
	if !strings.Contains(s.Pools[1].Detail, "503") {
		t.Errorf("pool-b detail %q; want the 503", s.Pools[1].Detail)
	}
}
