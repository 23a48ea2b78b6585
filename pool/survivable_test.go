package pool

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/siptest"
)

// Survivable park's trust rule (park/survivable.go): the original park time is taken
// only with park.survivable on, only through the pool's proxy, and only from someone
// the pool authenticated; otherwise a re-park is refused or the time is not believed.

// repark INVITEs sip:park@ at addr with an original park time and parker, as a
// gateway re-parking a call does.
func repark(t *testing.T, ph *siptest.Phone, addr string, since time.Time) (*siptest.Call, error) {
	t.Helper()
	return ph.Call(testCtx(t), "sip:"+parkwire.ParkUser+"@"+addr,
		sip.NewHeader(parkwire.ParkedSinceHeader, since.UTC().Format(time.RFC3339Nano)),
		sip.NewHeader("Referred-By", "<sip:alice@pool-a>"))
}

func survivablePool(t *testing.T, on, authenticate bool) *Pool {
	cfg := testConfig("pool-b", Range{Start: "8000", End: "8099"})
	cfg.Park.Survivable = on
	cfg.UnauthenticatedCalls = !authenticate
	return startPool(t, cfg, Options{})
}

func TestReparkKeepsParkTimeAndParker(t *testing.T) {
	p := survivablePool(t, true, true)
	bob := newPhone(t, p, "bob", "bob-pw", bobHz)
	// A BLF panel watching every orbit (RFC 4235 dialog events) sees the re-parked call.
	panel := siptest.NewPhone(t, siptest.PhoneOptions{User: "panel", Domain: p.Domain(), Proxy: p.Addr()})
	sub, err := panel.Subscribe(testCtx(t), "sip:"+parkwire.ParkUser+"@"+p.Addr(), parkwire.EventDialog, time.Minute)
	if err != nil {
		t.Fatalf("the panel subscribes: %v", err)
	}
	since := time.Now().Add(-5 * time.Second).Truncate(time.Millisecond)
	c, err := repark(t, bob, p.Addr(), since)
	if err != nil {
		t.Fatalf("re-park: %v", err)
	}
	defer c.Hangup(testCtx(t))
	if got := c.Header(parkwire.ParkedSinceHeader); got != since.UTC().Format(time.RFC3339Nano) {
		t.Errorf("the 200 says parked since %q, want %s", got, since)
	}
	waitFor(t, "bob parked", func() bool { return len(p.Park().Parked()) == 1 })
	pc := p.Park().Parked()[0]
	if !pc.Since.Equal(since) || !pc.Deadline.Equal(since.Add(30*time.Second)) || pc.ParkedBy != "sip:alice@pool-a" {
		t.Fatalf("re-parked call %+v: want since %v, deadline 30 s after it, parked by alice", pc, since)
	}
	if _, err := sub.NextNotify(testCtx(t), "orbit-"+pc.Orbit); err != nil {
		t.Fatalf("the dialog-event panel never showed orbit %s: %v", pc.Orbit, err)
	}
}

func TestReparkRefused(t *testing.T) {
	since := time.Now().Add(-time.Second)
	for _, tc := range []struct {
		name  string
		on    bool
		since time.Time
	}{
		{"survivable park off", false, since},
		{"a park time in the future", true, time.Now().Add(time.Hour)},
		{"a park time older than any pickup timeout", true, time.Now().Add(-time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := survivablePool(t, tc.on, true)
			bob := newPhone(t, p, "bob", "bob-pw", bobHz)
			_, err := repark(t, bob, p.Addr(), tc.since)
			if siptest.Status(err) != 403 {
				t.Fatalf("re-park: %v, want 403 Re-park not accepted", err)
			}
		})
	}
	t.Run("straight to the park service, not through the proxy", func(t *testing.T) {
		p := survivablePool(t, true, true)
		// No outbound proxy: the INVITE goes where its Request-URI says.
		bob := siptest.NewPhone(t, siptest.PhoneOptions{User: "bob", Password: "bob-pw", Domain: p.Domain(), ToneHz: bobHz})
		if _, err := repark(t, bob, p.Park().Addr(), since); siptest.Status(err) != 403 {
			t.Fatalf("re-park: %v, want 403", err)
		}
	})
}

// A pool that does not authenticate calls cannot vouch for anyone: the time is dropped
// and the call is parked as a new one, counting from now.
func TestReparkTimeStrippedWithoutAuthentication(t *testing.T) {
	p := survivablePool(t, true, false)
	bob := newPhone(t, p, "bob", "bob-pw", bobHz)
	before := time.Now()
	c, err := repark(t, bob, p.Addr(), before.Add(-5*time.Second))
	if err != nil {
		t.Fatalf("park: %v", err)
	}
	defer c.Hangup(testCtx(t))
	waitFor(t, "bob parked", func() bool { return len(p.Park().Parked()) == 1 })
	if pc := p.Park().Parked()[0]; pc.Since.Before(before) {
		t.Fatalf("parked since %v: the unauthenticated park time was believed", pc.Since)
	}
}

// park.survivable is read from the file, off unless named.
func TestParseConfigSurvivable(t *testing.T) {
	for body, want := range map[string]bool{
		`park: {orbits: ["7000-7099"]}`:                   false,
		`park: {orbits: ["7000-7099"], survivable: true}`: true,
	} {
		cfg, err := ParseConfig([]byte("name: pool-a\nlisten: 127.0.0.1:5070\n"+body+"\n"), "")
		if err != nil || cfg.Park.Survivable != want {
			t.Errorf("%s: survivable %v, %v; want %v", body, cfg.Park.Survivable, err, want)
		}
	}
}
