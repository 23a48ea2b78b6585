package failover

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/parkway/parkway/browsertest"
	"github.com/parkway/parkway/signaling"
)

// music is each pool's built-in music on hold (park.BuiltinMusicHz): a parked party
// hearing one of them proves which pool's park service holds the call.
var music = map[string][2]float64{"pool-a": {440, 660}, "pool-b": {1000, 1200}}

// connectCall has from call to, to answer, and checks audio both ways.
func connectCall(t testing.TB, from, to *browsertest.Phone) (caller, callee *browsertest.Call) {
	t.Helper()
	caller, err := from.Call(step(t), to.User())
	if err != nil {
		t.Fatalf("%s calls %s: %v", from.User(), to.User(), err)
	}
	callee, err = to.WaitIncoming(step(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := callee.Answer(step(t)); err != nil {
		t.Fatalf("%s answers: %v", to.User(), err)
	}
	active(t, caller, callee)
	talking(t, from.User(), caller, to.User(), callee)
	return caller, callee
}

// active waits until every call is active.
func active(t testing.TB, calls ...*browsertest.Call) {
	t.Helper()
	for _, c := range calls {
		if _, err := c.WaitState(step(t), signaling.CallActive); err != nil {
			t.Fatal(err)
		}
	}
}

// talking checks audio both ways between user a on call ca and user b on call cb:
// each hears the other's tone, heard afresh after this point.
func talking(t testing.TB, a string, ca *browsertest.Call, b string, cb *browsertest.Call) {
	t.Helper()
	ca.Forget()
	cb.Forget()
	if err := ca.WaitHeard(step(t), hz[b]); err != nil {
		t.Fatalf("%s does not hear %s: %v", a, b, err)
	}
	if err := cb.WaitHeard(step(t), hz[a]); err != nil {
		t.Fatalf("%s does not hear %s: %v", b, a, err)
	}
}

// hearsMusic waits until the call plays pool's music on hold.
func hearsMusic(t testing.TB, who string, c *browsertest.Call, pool string) {
	t.Helper()
	c.Forget()
	ctx := step(t)
	for !c.Heard(music[pool][0]) && !c.Heard(music[pool][1]) {
		select {
		case <-ctx.Done():
			t.Fatalf("%s never heard %s's music on hold %v", who, pool, music[pool])
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// park parks the call and checks the orbit is in the pool's range.
func park(t testing.TB, who string, c *browsertest.Call, pool string) string {
	t.Helper()
	orbit, err := c.Park(step(t), "")
	if err != nil {
		t.Fatalf("%s parks: %v", who, err)
	}
	first := map[string]int{"pool-a": 7000, "pool-b": 8000}[pool]
	if n, err := strconv.Atoi(orbit); err != nil || n < first || n > first+99 {
		t.Fatalf("%s parked on orbit %q, want one of %s's %d-%d", who, orbit, pool, first, first+99)
	}
	return orbit
}

// parkRefused checks that the gateway both pushes Park as disabled with reason and
// refuses a park request with exactly that reason, leaving the call up.
func parkRefused(t testing.TB, p *browsertest.Phone, c *browsertest.Call, reason string) {
	t.Helper()
	v, err := p.WaitCapability(step(t), signaling.ActionPark, false)
	if err != nil {
		t.Fatal(err)
	}
	if v.Reason != reason {
		t.Fatalf("%s's Park button says %q, want %q", p.User(), v.Reason, reason)
	}
	_, err = c.Park(step(t), "")
	refusal(t, p.User()+" parks", err, signaling.CodeRefused, reason)
	if st := c.Last().State; st != signaling.CallActive && st != signaling.CallHeld {
		t.Fatalf("a refused park left %s's call %s", p.User(), st)
	}
}

// holdAndResume puts c on hold (its holder hears nothing) and takes it off again.
func holdAndResume(t testing.TB, who string, c *browsertest.Call) {
	t.Helper()
	if err := c.Hold(step(t)); err != nil {
		t.Fatalf("%s holds: %v", who, err)
	}
	if err := c.WaitQuiet(step(t), 500*time.Millisecond); err != nil {
		t.Fatalf("%s still hears audio while holding: %v", who, err)
	}
	if err := c.Resume(step(t)); err != nil {
		t.Fatalf("%s resumes: %v", who, err)
	}
}

// ended waits until c ends and checks its reason.
func ended(t testing.TB, who string, c *browsertest.Call, reason string) {
	t.Helper()
	got, err := c.WaitState(step(t), signaling.CallEnded)
	if err != nil {
		t.Fatalf("%s's call: %v", who, err)
	}
	if got.Reason != reason {
		t.Fatalf("%s's call ended with reason %q, want %q", who, got.Reason, reason)
	}
}

// phases waits until every phone has been pushed phase.
func phases(t testing.TB, phase signaling.Phase, phones ...*browsertest.Phone) {
	t.Helper()
	for _, p := range phones {
		if err := p.WaitPhase(step(t), phase); err != nil {
			t.Fatal(err)
		}
	}
}

// still checks that a call is still up.
func still(t testing.TB, who string, c *browsertest.Call) {
	t.Helper()
	if last := c.Last(); last.State != signaling.CallActive {
		t.Fatalf("%s's call is %s (reason %q), want still active", who, last.State, last.Reason)
	}
}

func since(t0 time.Time) string { return fmt.Sprintf("%d ms", time.Since(t0).Milliseconds()) }

// Every test of the package runs on its own processes and ports, and nearly every one
// that starts them is parallel (TestCallSurvivesGatewayKill says why it is not): they wait on timers and sockets far more than they compute
// (the package took 118 s of wall time for 33 s of CPU), so a test kept alone only
// held the others back — the three-gateway ones did, 100 s of the package's 134 s in
// CI (issue 12). go test's -parallel (GOMAXPROCS by default; `go tool task unit` gives
// 4) bounds how many run at once, so their 20 ms audio is not starved. The cells of
// TestSeedTablesOnThreeGateways are the exception: their parent runs them in slots of
// their own (cells3Width says why), so there it does nothing.
func parallel(t *testing.T) {
	if isThreeGatewayCell(t) {
		return
	}
	t.Parallel()
}

// minPickup is the shortest call pickup timeout a pool takes (park.MinPickupTimeout).
const minPickup = 10 * time.Second

// timeout is a context for a step that waits longer than usual on purpose.
func timeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// transfer has from blind-transfer its call c to target, who answers: the transfer
// completes only when the transferee's new call is answered, so both run at once.
func transfer(t testing.TB, from *browsertest.Phone, c *browsertest.Call, target *browsertest.Phone) *browsertest.Call {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.Transfer(step(t), target.User()) }()
	tc, err := target.WaitIncoming(step(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.Answer(step(t)); err != nil {
		t.Fatalf("%s answers the transferred call: %v", target.User(), err)
	}
	if err := <-done; err != nil {
		t.Fatalf("%s transfers to %s: %v", from.User(), target.User(), err)
	}
	if last := c.Last(); last.Reason != "transferred" {
		t.Fatalf("%s's call ended with reason %q, want \"transferred\"", from.User(), last.Reason)
	}
	active(t, tc)
	return tc
}
