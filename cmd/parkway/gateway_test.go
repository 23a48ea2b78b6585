package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/browsertest"
	"github.com/parkway/parkway/internal/demousers"
	"github.com/parkway/parkway/pool"
	"github.com/parkway/parkway/signaling"
)

// `parkway gateway` with a sip section carries calls, as the demo does: alice calls bob
// through the gateway and pool-a, and each hears the other.
func TestGatewayCarriesCalls(t *testing.T) {
	cfgA, cfgB, err := pool.DemoConfigsOn("127.0.0.1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	poolCtx, stopPools := context.WithCancel(context.Background())
	t.Cleanup(stopPools)
	for _, c := range []pool.Config{cfgA, cfgB} {
		p, err := pool.New(c, pool.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Start(poolCtx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Stop() })
	}

	dir := t.TempDir()
	var creds strings.Builder
	for _, u := range demousers.All {
		fmt.Fprintf(&creds, "%s: %s\n", u.Name, u.Password)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	conf := fmt.Sprintf(`http: %s
demo: true
pools:
  home:   {name: pool-a, sip: %s, orbits: ["7000-7099"]}
  backup: {name: pool-b, sip: %s, orbits: ["8000-8099"]}
sip: {listen: "127.0.0.1:0", credentialsFile: users.yaml}
`, httpAddr, cfgA.Listen, cfgB.Listen)
	for name, body := range map[string]string{"gateway.yaml": conf, "users.yaml": creds.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var gwErr error
	gwEnded := make(chan struct{}) // closed when runGateway has returned gwErr
	go func() {
		defer close(gwEnded)
		gwErr = runGateway(ctx, []string{"--config", filepath.Join(dir, "gateway.yaml")})
	}()
	// Before the pools stop: the gateway signs its users out on the way down.
	t.Cleanup(func() {
		cancel()
		<-gwEnded
		if gwErr != nil {
			t.Errorf("gateway: %v", gwErr)
		}
	})
	url := "http://" + httpAddr
	step := func() context.Context {
		c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		t.Cleanup(cancel)
		return c
	}
	waitNormal(t, url, func() (bool, error) {
		select {
		case <-gwEnded:
			return true, gwErr
		default:
			return false, nil
		}
	})

	phone := func(user string, hz float64) *browsertest.Phone {
		p, err := browsertest.Connect(step(), url, user, &browsertest.Options{Hz: hz})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		if err := p.WaitReady(step()); err != nil {
			t.Fatal(err)
		}
		return p
	}
	alice, bob := phone("alice", 1400), phone("bob", 1700)
	call, err := alice.Call(step(), "bob")
	if err != nil {
		t.Fatalf("alice calls bob: %v", err)
	}
	in, err := bob.WaitIncoming(step())
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Answer(step()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*browsertest.Call{call, in} {
		if _, err := c.WaitState(step(), signaling.CallActive); err != nil {
			t.Fatal(err)
		}
	}
	if err := call.WaitHeard(step(), 1700); err != nil {
		t.Fatalf("alice does not hear bob: %v", err)
	}
	if err := in.WaitHeard(step(), 1400); err != nil {
		t.Fatalf("bob does not hear alice: %v", err)
	}
	if err := call.Hangup(step()); err != nil {
		t.Fatal(err)
	}
	if _, err := in.WaitState(step(), signaling.CallEnded); err != nil {
		t.Fatal(err)
	}
}
