package ua_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/parkway/parkway/gateway/ua"
)

// bridgeLeg stands in for the media bridge's SIP side.
type bridgeLeg struct{ local netip.AddrPort }

func (b bridgeLeg) LocalRTP() netip.AddrPort              { return b.local }
func (b bridgeLeg) SetRemote(netip.AddrPort, uint8) error { return nil }
func (b bridgeLeg) SetDirection(ua.Direction)             {}

// The gateway wires one Manager, signs users in as their sessions start, and hands the
// Manager to the DR controller as its Redirector. (Compiled, not run: it needs pools.)
func Example() {
	ctx := context.Background()
	m, err := ua.NewManager(ua.Config{
		Pools: []ua.Pool{
			{Name: "pool-a", Addr: "127.0.0.1:5070"},
			{Name: "pool-b", Addr: "127.0.0.1:5080"},
		},
		Active:      "pool-a",
		Credentials: ua.StaticCredentials{"alice": "alice-demo"},
	})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	alice, err := m.SignIn(ctx, "alice")
	if err != nil {
		panic(err)
	}
	go func() {
		for e := range alice.Events() { // push to the browser as data-call-state
			fmt.Println(e.Call.ID(), e.State, e.Reason, e.Orbit)
		}
	}()
	leg := bridgeLeg{local: netip.MustParseAddrPort("127.0.0.1:40000")}
	c, err := alice.Dial(ctx, "bob", leg)
	if errors.Is(err, ua.ErrNotFound) {
		fmt.Println("not found")
		return
	}
	orbit, _ := c.Park(ctx, "")
	fmt.Println("parked at", orbit)
	_ = m.Redirect(ctx, "pool-b") // dr.Controller calls this on outage
}
