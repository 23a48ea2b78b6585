package park

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/siptest"
)

// TestMain fails the package when goroutines of ours outlive the tests
// (a handler of ours blocked in a sipgo transaction may linger up to its
// 32 s timers; passing runs do not wait).
func TestMain(m *testing.M) {
	// sipgo logs connection bookkeeping on its package logger; the tests
	// provoke plenty of it on purpose (floods, garbage).
	sip.SetDefaultLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(40 * time.Second) // outlasts sipgo's 32 s transaction timers
		for {
			leaked := ourGoroutines()
			if leaked == "" {
				break
			}
			if time.Now().After(deadline) {
				println("leaked goroutines:\n" + leaked)
				code = 1
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	os.Exit(code)
}

func ourGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "parkway/park.") || strings.Contains(g, "parkway/siptest.") {
			if strings.Contains(g, "TestMain") || strings.Contains(g, "ourGoroutines") {
				continue
			}
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func startService(t *testing.T, cfg Config, opt Options) *Service {
	t.Helper()
	if opt.TestPickupTimeout == 0 {
		opt.TestPickupTimeout = time.Minute // no timeouts unless a test asks
	}
	s, err := New(cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

func defaultConfig() Config {
	return Config{Orbits: []parkwire.Range{{Start: "7000", End: "7009"}}}
}

// uri addresses the park service directly (no pool in these tests).
func uri(s *Service, user string) string { return "sip:" + user + "@" + s.Addr() }

// waitFor polls cond: tests wait for events with generous deadlines, they
// never assert on a timer.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func waitTone(t *testing.T, ctx context.Context, m *siptest.Media, freq float64) {
	t.Helper()
	for !m.HeardTone(freq) {
		select {
		case <-ctx.Done():
			// what was heard instead tells a stalled stream (no packets) from a wrong
			// or mixed one (packets, other sources, a low level)
			t.Fatalf("timed out waiting for a %.0f Hz tone at %s: level %.2f (0.5 needed), %d packets since the last reset, from %v",
				freq, m.LocalAddr(), m.Level(freq), m.Packets(), m.Sources())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// nextEvent waits for an event in state st (skipping others).
func nextEvent(t *testing.T, ctx context.Context, ch <-chan parkwire.Event, st parkwire.State) parkwire.Event {
	t.Helper()
	for {
		select {
		case e := <-ch:
			if e.Call.State == st {
				return e
			}
		case <-ctx.Done():
			t.Fatalf("no %s event", st)
		}
	}
}

func answerNext(t *testing.T, ctx context.Context, p *siptest.Phone) <-chan *siptest.Call {
	out := make(chan *siptest.Call, 1)
	go func() {
		select {
		case c := <-p.Incoming():
			if err := c.Answer(ctx); err != nil {
				t.Errorf("answer: %v", err)
			}
			out <- c
		case <-ctx.Done():
			close(out)
		}
	}()
	return out
}

// parties are the usual cast: alice parks bob's call, carol retrieves it.
type parties struct {
	alice, bob, carol *siptest.Phone
}

const (
	aliceHz = 350
	bobHz   = 1500
	carolHz = 1800
)

func newParties(t *testing.T) parties {
	return parties{
		alice: siptest.NewPhone(t, siptest.PhoneOptions{User: "alice", ToneHz: aliceHz}),
		bob:   siptest.NewPhone(t, siptest.PhoneOptions{User: "bob", ToneHz: bobHz}),
		carol: siptest.NewPhone(t, siptest.PhoneOptions{User: "carol", ToneHz: carolHz}),
	}
}

// parkBob sets up alice↔bob and has alice blind-transfer bob to target.
// It returns bob's call with the park service.
func parkBob(t *testing.T, ctx context.Context, p parties, target string) (*siptest.Call, error) {
	t.Helper()
	got := answerNext(t, ctx, p.bob)
	ab, err := p.alice.Call(ctx, p.bob.URI())
	if err != nil {
		t.Fatal(err)
	}
	ba := <-got
	code, err := ab.Refer(ctx, target)
	if err != nil {
		t.Fatalf("refer: %v", err)
	}
	_ = ab.Hangup(ctx)
	if code != 200 {
		return nil, &referError{code}
	}
	return ba.Successor(ctx)
}

type referError struct{ code int }

func (e *referError) Error() string { return "transfer failed with " + itoa(e.code) }
