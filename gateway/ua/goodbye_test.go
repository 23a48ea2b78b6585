package ua

import (
	"bytes"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/parkway/parkway/pool"
)

// TestNoGoodbyesToAPoolThatIsDown: once the manager is told a pool is down (the DR
// controller's view, Manager.PoolDown), signing out sends no un-REGISTER to it and a
// park watcher closing sends no un-SUBSCRIBE — each could only wait for its timeout.
// Told nothing, both goodbyes go out, to the same stand-in for the pool (a socket on
// the stopped pool's addresses that hears what is sent and answers nothing).
func TestNoGoodbyesToAPoolThatIsDown(t *testing.T) {
	for _, down := range []bool{true, false} {
		name := "pool reported down"
		if !down {
			name = "pool not reported down"
		}
		t.Run(name, func(t *testing.T) {
			checkNoLeaks(t)
			ps := startPools(t, demoUsers, pool.Options{})
			cfg := ps.config(demoUsers)
			// Short, so that the goodbyes sent to the silent stand-in end soon; skipped
			// goodbyes do not depend on it.
			cfg.RequestTimeout = 500 * time.Millisecond
			m := newManager(t, cfg)
			u := signIn(t, m, "alice")
			var rec listRecorder
			w, err := m.WatchParked(testCtx(t), "", rec.add)
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, "pool-a's list", func() bool { l, n := rec.last(); return n > 0 && l.Pool == "pool-a" })

			// The un-REGISTER goes to the pool's address, the un-SUBSCRIBE to the
			// Contact of the subscription: pool-a's park service.
			addr, parkAddr := ps.a.Addr(), ps.a.ParkAddr()
			ps.a.Stop()
			standIn, parkStandIn := listenUDP(t, addr), listenUDP(t, parkAddr)
			if down {
				m.PoolDown("pool-a", true)
			}
			if err := u.SignOut(testCtx(t)); err != nil && down {
				t.Fatalf("sign-out with its pool down: %v", err)
			}
			w.Close()

			// A goodbye is sent before SignOut or Close returns: by now it is in the
			// stand-in's queue, or there is none.
			heard := append(drain(t, standIn), drain(t, parkStandIn)...)
			gotRegister := bytes.Contains(heard, []byte("REGISTER sip:"))
			gotSubscribe := bytes.Contains(heard, []byte("SUBSCRIBE sip:"))
			if down && (gotRegister || gotSubscribe) {
				t.Fatalf("goodbyes went to a pool reported down (REGISTER %v, SUBSCRIBE %v):\n%s", gotRegister, gotSubscribe, heard)
			}
			if !down && (!gotRegister || !gotSubscribe) {
				t.Fatalf("a pool not reported down should get the un-REGISTER and the un-SUBSCRIBE (REGISTER %v, SUBSCRIBE %v):\n%s", gotRegister, gotSubscribe, heard)
			}
		})
	}
}

// TestPoolDownThenUpAgain: a pool reported down and then up again gets its goodbyes.
func TestPoolDownThenUpAgain(t *testing.T) {
	checkNoLeaks(t)
	ps := startPools(t, demoUsers, pool.Options{})
	m := newManager(t, ps.config(demoUsers))
	u := signIn(t, m, "alice")
	m.PoolDown("pool-a", true)
	m.PoolDown("pool-a", false)
	if err := u.SignOut(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if c := ps.a.Contacts("alice"); len(c) != 0 {
		t.Fatalf("pool-a still has alice's bindings after sign-out: %v", c)
	}
}

// listenUDP binds addr, retrying briefly while the stopped pool's socket lets go of it.
func listenUDP(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(wait)
	for {
		c, err := net.ListenUDP("udp", ua)
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("binding the stopped pool's address %s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// drain returns everything queued on c, without waiting for more.
func drain(t *testing.T, c *net.UDPConn) []byte {
	t.Helper()
	var all []byte
	buf := make([]byte, 64<<10)
	for {
		if err := c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		n, _, err := c.ReadFromUDP(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return all
		}
		if err != nil {
			t.Fatal(err)
		}
		all = append(append(all, buf[:n]...), "\n---\n"...)
	}
}
