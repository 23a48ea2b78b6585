package freeport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Range is the ports Min to Max, both included.
type Range struct{ Min, Max int }

func (r Range) String() string { return fmt.Sprintf("%d-%d", r.Min, r.Max) }

// Contains reports whether port is in r.
func (r Range) Contains(port int) bool { return port >= r.Min && port <= r.Max }

// ParseRange reads "MIN-MAX", two ports with 1 ≤ MIN ≤ MAX ≤ 65535.
func ParseRange(s string) (Range, error) {
	lo, hi, ok := strings.Cut(s, "-")
	a, errA := strconv.Atoi(strings.TrimSpace(lo))
	b, errB := strconv.Atoi(strings.TrimSpace(hi))
	if !ok || errA != nil || errB != nil || a < 1 || a > b || b > 65535 {
		return Range{}, fmt.Errorf("port range %q must be MIN-MAX, two ports with 1 ≤ MIN ≤ MAX ≤ 65535", s)
	}
	return Range{Min: a, Max: b}, nil
}

// lowest is where Default's ports start: above the registered services most machines
// run (databases, brokers, dev servers in the 1024–19999 range).
const lowest = 20000

// minSize is the fewest ports Default settles for below the ephemeral range; with fewer
// it takes the ports above it instead.
const minSize = 1000

// Default is the ports from 20000 up to the kernel's ephemeral range (20000–32767 with
// Linux's default range 32768–60999), or those above the range when it starts too low
// to leave 1,000 below. Without /proc (not Linux) it assumes IANA's 49152–65535.
func Default() Range {
	return outside(ephemeral())
}

// ephemeral is the kernel's ephemeral port range.
func ephemeral() Range {
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			if r, err := ParseRange(f[0] + "-" + f[1]); err == nil {
				return r
			}
		}
	}
	return Range{Min: 49152, Max: 65535}
}

// outside is the ports Default picks from, given the ephemeral range e.
func outside(e Range) Range {
	if e.Min-1-lowest+1 >= minSize {
		return Range{Min: lowest, Max: e.Min - 1}
	}
	if 65535-e.Max >= minSize {
		return Range{Min: e.Max + 1, Max: 65535}
	}
	// The ephemeral range covers nearly everything: the ports below it, however few.
	return Range{Min: 1024, Max: max(1024, e.Min-1)}
}

// UDPAndTCP returns a port of r on host where both a UDP socket and a TCP listener can
// bind right now, skipping any port skip reports (nil: none). It tries random ports, so
// two programs picking from one range rarely try the same one. The port is free when
// returned; the caller binds it.
func UDPAndTCP(host string, r Range, skip func(int) bool) (int, error) {
	if r.Min < 1 || r.Min > r.Max || r.Max > 65535 {
		return 0, fmt.Errorf("freeport: bad range %v", r)
	}
	var lastErr error = errors.New("every port tried was skipped")
	for range 200 {
		port := r.Min + rand.IntN(r.Max-r.Min+1)
		if skip != nil && skip(port) {
			continue
		}
		if err := Check(host, port); err != nil {
			lastErr = err
			continue
		}
		return port, nil
	}
	return 0, fmt.Errorf("freeport: no port of %v on %s free for both UDP and TCP (last: %w)", r, host, lastErr)
}

// Check reports whether port of host is free for both TCP and UDP now (another
// program may still take it later), as the error binding it gave.
func Check(host string, port int) error {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	tl, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	ul, err := net.ListenPacket("udp", addr)
	tl.Close()
	if err != nil {
		return err
	}
	return ul.Close()
}

// Picker picks ports free for both UDP and TCP, never the same one twice: for a program
// that picks many ports before it binds them (a test starting pools that must know each
// other's ports), where two picks must not meet. The zero value picks ports of Default()
// on 127.0.0.1. A Picker is safe for concurrent use and must not be copied.
type Picker struct {
	Host  string // "" means 127.0.0.1
	Range Range  // the zero Range means Default()

	mu   sync.Mutex
	used map[int]bool
}

// Pick returns a port of the Picker's range that UDPAndTCP finds free and that Pick has
// not returned before.
func (p *Picker) Pick() (int, error) {
	host, r := p.Host, p.Range
	if host == "" {
		host = "127.0.0.1"
	}
	if r == (Range{}) {
		r = Default()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	port, err := UDPAndTCP(host, r, func(port int) bool { return p.used[port] })
	if err != nil {
		return 0, err
	}
	if p.used == nil {
		p.used = map[int]bool{}
	}
	p.used[port] = true
	return port, nil
}
