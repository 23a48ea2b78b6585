package pool

import (
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/parkway/parkway/internal/demousers"
	"github.com/parkway/parkway/internal/devca"
	"github.com/parkway/parkway/internal/freeport"
)

// DemoUsers are the demo's users and their published passwords ([demousers.All] as
// pool users; configs/pool-*.yaml list the same).
var DemoUsers = asPoolUsers(demousers.All)

func asPoolUsers(list []demousers.User) []User {
	users := make([]User, len(list))
	for i, u := range list {
		users[i] = User{Name: u.Name, Password: u.Password}
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
		// The default, written out as in configs/pool-a.yaml.
		FloodLimit: FloodLimit{PerSecond: DefaultFloodRate, Burst: DefaultFloodBurst},
		Park: ParkConfig{
			Orbits:            append([]Range(nil), orbitsA...),
			PickupTimeout:     90 * time.Second,
			MusicFile:         "builtin:pool-a",
			MaxPickupAttempts: 1,
		},
	}
	b = Config{
		Name:       "pool-b",
		Listen:     addrB,
		Users:      append([]User(nil), DemoUsers...),
		Peer:       &Peer{Name: "pool-a", Addr: addrA, Orbits: append([]Range(nil), orbitsA...)},
		FloodLimit: FloodLimit{PerSecond: DefaultFloodRate, Burst: DefaultFloodBurst},
		Park: ParkConfig{
			Orbits:            append([]Range(nil), orbitsB...),
			PickupTimeout:     45 * time.Second,
			MusicFile:         "builtin:pool-b",
			MaxPickupAttempts: 1,
		},
	}
	return a, b
}

// DemoConfigsOn is [DemoConfigsIn] with ports from [freeport.Default]: outside the
// kernel's ephemeral range.
func DemoConfigsOn(host string, portA, portB int) (a, b Config, err error) {
	return DemoConfigsIn(host, portA, portB, freeport.Default())
}

// DemoConfigsIn returns [DemoConfigs] with pool-a listening on portA and pool-b on portB,
// each the other's peer at that address, and each park service on a port of its own. A
// port of 0 is replaced by one of ports free on host for both UDP and TCP (a pool listens
// on both) and distinct from the others: each pool must know its peer's port before
// either starts, so ports are picked up front rather than by binding port 0. A pool
// stopped and started again binds the same ports; picked outside the kernel's ephemeral
// range (as [freeport.Default] is), no outgoing connection or port-0 socket takes them
// meanwhile. The ports are free when picked; something else may take one before the
// pool binds it, and then the pool's Start fails.
func DemoConfigsIn(host string, portA, portB int, ports freeport.Range) (a, b Config, err error) {
	p, err := freeSIPPorts(host, ports, portA, portB, 0, 0)
	if err != nil {
		return Config{}, Config{}, err
	}
	a, b = DemoConfigs(host)
	a.Listen = net.JoinHostPort(host, strconv.Itoa(p[0]))
	b.Listen = net.JoinHostPort(host, strconv.Itoa(p[1]))
	a.ParkListen = net.JoinHostPort(host, strconv.Itoa(p[2]))
	b.ParkListen = net.JoinHostPort(host, strconv.Itoa(p[3]))
	a.Peer.Addr, b.Peer.Addr = b.Listen, a.Listen
	return a, b, nil
}

// freeSIPPorts returns want with every 0 replaced by a port of r free for UDP and TCP on
// host that is none of the others.
func freeSIPPorts(host string, r freeport.Range, want ...int) ([]int, error) {
	ports := slices.Clone(want)
	for i, p := range ports {
		if p != 0 {
			continue
		}
		free, err := freeport.UDPAndTCP(host, r, func(p int) bool { return slices.Contains(ports, p) })
		if err != nil {
			return nil, err
		}
		ports[i] = free
	}
	return ports, nil
}

// DemoTLS is [DemoTLSIn] with ports from [freeport.Default].
func DemoTLS(a, b *Config, ca *devca.CA) error { return DemoTLSIn(a, b, ca, freeport.Default()) }

// DemoTLSIn gives the pair a, b (from [DemoConfigs] or [DemoConfigsIn]) TLS listeners on
// free ports of their host from ports, each with a certificate from ca naming that host and its
// name, and makes each reach its peer over TLS, trusting ca: what `parkway demo` and the
// tests run gateway↔pool and pool↔pool over. UDP and TCP stay on Listen.
func DemoTLSIn(a, b *Config, ca *devca.CA, ports freeport.Range) error {
	host, _, err := net.SplitHostPort(a.Listen)
	if err != nil {
		return err
	}
	taken := []int{portOf(a.Listen), portOf(b.Listen), portOf(a.ParkListen), portOf(b.ParkListen)}
	for _, c := range []*Config{a, b} {
		port, err := freeport.UDPAndTCP(host, ports, func(p int) bool { return slices.Contains(taken, p) })
		if err != nil {
			return err
		}
		taken = append(taken, port)
		leaf, err := ca.Issue(c.Name, host, c.Name)
		if err != nil {
			return err
		}
		c.TLS = &TLSConfig{Listen: net.JoinHostPort(host, strconv.Itoa(port)), Certificate: &leaf.TLS, RootCAs: ca.Pool()}
	}
	a.Peer.Addr, a.Peer.Transport = b.TLS.Listen, "TLS"
	b.Peer.Addr, b.Peer.Transport = a.TLS.Listen, "TLS"
	return nil
}

func portOf(hostPort string) int {
	_, p, _ := net.SplitHostPort(hostPort)
	n, _ := strconv.Atoi(p)
	return n
}
