package ua

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"github.com/parkway/parkway/media/g711"
	"github.com/parkway/parkway/pool"
	"github.com/parkway/parkway/signaling"
)

func testLogger() *slog.Logger {
	if os.Getenv("UA_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func init() {
	sip.SetDefaultLogger(testLogger())
	sip.SIPDebug = os.Getenv("UA_TEST_SIP") == "1"
}

// wait is the generous bound for anything a test waits for: tests never fail because
// a loaded machine was slow, only because something never happened.
const wait = 60 * time.Second

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
	t.Cleanup(cancel)
	return ctx
}

var demoUsers = []pool.User{{Name: "alice", Password: "alice-pw"}, {Name: "bob", Password: "bob-pw"},
	{Name: "carol", Password: "carol-pw"}, {Name: "dave", Password: "dave-pw"}}

func manyUsers(n int) []pool.User {
	us := append([]pool.User(nil), demoUsers...)
	for i := 0; i < n; i++ {
		us = append(us, pool.User{Name: fmt.Sprintf("u%04d", i), Password: fmt.Sprintf("pw-%d", i)})
	}
	return us
}

// pools is the demo pair, pool-a and pool-b, on free ports, each the other's peer.
type pools struct{ a, b *pool.Pool }

func startPools(t testing.TB, users []pool.User, opt pool.Options) pools {
	t.Helper()
	return startPoolsWith(t, users, opt, nil)
}

// startPoolsWith is startPools with edit applied to both pools' configs before New.
func startPoolsWith(t testing.TB, users []pool.User, opt pool.Options, edit func(a, b *pool.Config)) pools {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = testLogger()
	}
	// A port freePort found free can be taken (by another process's outgoing socket)
	// before the pool binds it: pick the pair's ports again, a few times, on that error.
	for attempt := 1; ; attempt++ {
		ps, err := tryStartPools(users, opt, edit)
		if err == nil {
			t.Cleanup(func() { ps.a.Stop(); ps.b.Stop() })
			return ps
		}
		if !errors.Is(err, syscall.EADDRINUSE) || attempt == 5 {
			t.Fatalf("pool Start: %v", err)
		}
	}
}

// tryStartPools starts the demo pair on ports free a moment ago; on an error nothing
// is left running.
func tryStartPools(users []pool.User, opt pool.Options, edit func(a, b *pool.Config)) (pools, error) {
	ca, cb, err := pool.DemoConfigsOn("127.0.0.1", 0, 0) // free ports, each the other's peer
	if err != nil {
		return pools{}, err
	}
	ca.Users, cb.Users = users, users
	ca.Park.PickupTimeout, cb.Park.PickupTimeout = 5*time.Minute, 5*time.Minute
	if edit != nil {
		edit(&ca, &cb)
	}
	var started []*pool.Pool
	for _, c := range []pool.Config{ca, cb} {
		p, err := pool.New(c, opt)
		if err == nil {
			err = p.Start(context.Background())
		}
		if err != nil {
			for _, s := range started {
				s.Stop()
			}
			return pools{}, err
		}
		started = append(started, p)
	}
	return pools{a: started[0], b: started[1]}, nil
}

func (ps pools) config(users []pool.User) Config {
	creds := StaticCredentials{}
	for _, u := range users {
		creds[u.Name] = u.Password
	}
	return Config{
		Pools: []Pool{
			{Name: ps.a.Name(), Addr: ps.a.Addr(), Domain: ps.a.Domain()},
			{Name: ps.b.Name(), Addr: ps.b.Addr(), Domain: ps.b.Domain()},
		},
		Active:      ps.a.Name(),
		Credentials: creds,
		Logger:      testLogger(),
	}
}

func newManager(t testing.TB, cfg Config) *Manager {
	t.Helper()
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func signIn(t testing.TB, m *Manager, name string) *User {
	t.Helper()
	u, err := m.SignIn(testCtx(t), name)
	if err != nil {
		t.Fatalf("SignIn %s: %v", name, err)
	}
	return u
}

// eventually polls cond until it holds, failing only after the generous wait.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// nextEvent waits for u's next event matching state (and reason prefix when given).
func nextEvent(t testing.TB, u *User, state signaling.CallState, reason string) Event {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-u.Events():
			if !ok {
				t.Fatalf("%s: events closed waiting for %s", u.Name(), state)
			}
			if e.State == state && strings.HasPrefix(e.Reason, reason) {
				return e
			}
		case <-timer.C:
			t.Fatalf("%s: no %s event (%q)", u.Name(), state, reason)
		}
	}
}

func nextIncoming(t testing.TB, u *User) *Incoming {
	t.Helper()
	select {
	case in := <-u.Incoming():
		return in
	case <-time.After(wait):
		t.Fatalf("%s: no incoming call", u.Name())
		return nil
	}
}

// testLeg is a MediaLeg on a UDP socket: it sends a tone as paced 20 ms G.711 packets
// to whatever SetRemote named (when its direction lets it send) and counts what
// arrives, by source.
type testLeg struct {
	conn   *net.UDPConn
	toneHz float64

	mu      sync.Mutex
	remotes []netip.AddrPort // every SetRemote, in order
	pt      uint8
	dir     Direction
	dirs    []Direction
	sources map[netip.AddrPort]int

	received atomic.Int64
	stop     chan struct{}
	wg       sync.WaitGroup
}

func newTestLeg(t testing.TB, toneHz float64) *testLeg {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	l := &testLeg{conn: c, toneHz: toneHz, sources: map[netip.AddrPort]int{}, stop: make(chan struct{})}
	l.wg.Add(2)
	go l.send()
	go l.receive()
	t.Cleanup(func() {
		close(l.stop)
		c.Close()
		l.wg.Wait()
	})
	return l
}

var _ MediaLeg = (*testLeg)(nil)

func (l *testLeg) LocalRTP() netip.AddrPort { return l.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (l *testLeg) SetRemote(addr netip.AddrPort, pt uint8) error {
	if pt != PayloadPCMU && pt != PayloadPCMA {
		return fmt.Errorf("payload type %d is not G.711", pt)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.remotes = append(l.remotes, addr)
	l.pt = pt
	return nil
}

func (l *testLeg) SetDirection(d Direction) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dir = d
	l.dirs = append(l.dirs, d)
}

func (l *testLeg) Remotes() []netip.AddrPort {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]netip.AddrPort(nil), l.remotes...)
}

func (l *testLeg) Dir() Direction {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dir
}

// From counts packets received from src.
func (l *testLeg) From(src netip.AddrPort) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sources[src]
}

func (l *testLeg) send() {
	defer l.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var seq uint16
	var ts uint32
	var phase float64
	payload := make([]byte, 160)
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		l.mu.Lock()
		var dst netip.AddrPort
		if len(l.remotes) > 0 {
			dst = l.remotes[len(l.remotes)-1]
		}
		pt, dir := l.pt, l.dir
		l.mu.Unlock()
		if !dst.IsValid() || dir == RecvOnly || dir == Inactive {
			continue
		}
		for i := range payload {
			s := int16(8000 * math.Sin(phase))
			phase += 2 * math.Pi * l.toneHz / 8000
			if pt == PayloadPCMA {
				payload[i] = g711.EncodeAlaw(s)
			} else {
				payload[i] = g711.EncodeUlaw(s)
			}
		}
		phase = math.Mod(phase, 2*math.Pi)
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: 0x5eed}, Payload: payload}
		seq++
		ts += 160
		b, err := pkt.Marshal()
		if err == nil {
			_, _ = l.conn.WriteToUDPAddrPort(b, dst)
		}
	}
}

func (l *testLeg) receive() {
	defer l.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, src, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		var pkt rtp.Packet
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		l.received.Add(1)
		l.mu.Lock()
		l.sources[netip.AddrPortFrom(src.Addr().Unmap(), src.Port())]++
		l.mu.Unlock()
	}
}

// checkNoLeaks fails if goroutines of this package outlive the test's cleanups; it is
// registered first so it runs last.
func checkNoLeaks(t *testing.T) {
	t.Cleanup(func() {
		deadline := time.Now().Add(wait)
		for {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			var leaked []string
			for _, g := range strings.Split(string(buf[:n]), "\n\n") {
				if strings.Contains(g, "parkway/gateway/ua.") && !strings.Contains(g, "checkNoLeaks") && !strings.Contains(g, "testing.tRunner") {
					leaked = append(leaked, g)
				}
			}
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d goroutine(s) leaked, first:\n%s", len(leaked), leaked[0])
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
