package pool

import (
	"net"
	"time"

	"github.com/parkway/parkway/demousers"
)

// DemoUsers are the demo's users and their published passwords ([demousers.All] as
// pool users; configs/pool-*.yaml list the same).
var DemoUsers = asPoolUsers(demousers.All)

func asPoolUsers(list []demousers.User) []User {
	users := make([]User, len(list))
	for i, u := range list {
		users[i] = User(u)
	}
	return users
}

// DemoConfigs returns the demo's two pools on host, the in-process twin of
// configs/pool-a.yaml and configs/pool-b.yaml: pool-a (home) on port 5070 with orbits
// 7000–7099 and a 90 s pickup timeout, pool-b (backup) on 5080 with orbits 8000–8099 and
// 45 s, each the other's peer. Both share the demo users, as a Lync pool pair shares
// its user directory. Callers may change the ports before New (keeping the peers'
// addresses in step); TestDemoConfigsMatchFiles keeps the YAML files in sync.
func DemoConfigs(host string) (a, b Config) {
	addrA := net.JoinHostPort(host, "5070")
	addrB := net.JoinHostPort(host, "5080")
	orbitsA := []Range{{Start: "7000", End: "7099"}}
	orbitsB := []Range{{Start: "8000", End: "8099"}}
	a = Config{
		Name:   "pool-a",
		Listen: addrA,
		Users:  append([]User(nil), DemoUsers...),
		Peer:   &Peer{Name: "pool-b", Addr: addrB, Orbits: append([]Range(nil), orbitsB...)},
		Park: ParkConfig{
			Orbits:            append([]Range(nil), orbitsA...),
			PickupTimeout:     90 * time.Second,
			MusicFile:         "builtin:pool-a",
			MaxPickupAttempts: 1,
		},
	}
	b = Config{
		Name:   "pool-b",
		Listen: addrB,
		Users:  append([]User(nil), DemoUsers...),
		Peer:   &Peer{Name: "pool-a", Addr: addrA, Orbits: append([]Range(nil), orbitsA...)},
		Park: ParkConfig{
			Orbits:            append([]Range(nil), orbitsB...),
			PickupTimeout:     45 * time.Second,
			MusicFile:         "builtin:pool-b",
			MaxPickupAttempts: 1,
		},
	}
	return a, b
}
