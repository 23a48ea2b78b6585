package park_test

import (
	"context"
	"fmt"
	"log"

	"github.com/parkway/parkway/park"
	"github.com/parkway/parkway/park/parkwire"
)

// A pool wires its park service like this: validate the pool's settings,
// give the service its own listener, and point the proxy's routes for
// sip:park@domain and for every number Owns accepts at Addr.
func Example() {
	cfg := park.Config{
		Orbits:    []parkwire.Range{{Start: "8000", End: "8099"}},
		MusicFile: "builtin:pool-b",
	}
	if err := cfg.Validate(); err != nil {
		log.Fatal(err)
	}
	svc, err := park.New(cfg, park.Options{
		Listen: "127.0.0.1:0",
		Domain: "pool-b.example.test",
		Name:   "pool-b",
		// Outbound: proxyAddr — ring-backs and the parker's MESSAGE go there.
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer svc.Stop()
	fmt.Println(svc.Owns("8042"), svc.Owns("7042"), svc.ParkURI())
	// Output: true false sip:park@pool-b.example.test
}
