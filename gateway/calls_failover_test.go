package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/signaling"
)

// During failover a call to a user nobody knows is "not found", as in normal times:
// pool-b does not wait on its dead peer pool-a for the answer (pool/route.go).
func TestCallsUnknownUserDuringFailover(t *testing.T) {
	t.Parallel()
	g, poolA := callGateway(t)
	c, _ := g.connect(t, "carol")
	ready(t, g, poolA, "carol")
	g.ctl.setPools(map[string]bool{"pool-a": true, "pool-b": true})
	poolA.Stop()
	g.ctl.setPools(map[string]bool{"pool-b": true}) // as the probes would: nothing more is sent to pool-a
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := g.cfg.SIP.Redirect(ctx, "pool-b"); err != nil {
		t.Fatal(err)
	}
	g.ctl.set(signaling.PhaseFailover)

	tab := newBrowser(t, true)
	start := time.Now()
	c.send(request("n1", &signaling.Request{Action: signaling.ActionCall, Target: "nobody", SDP: tab.offer().SDP}))
	e := nextError(t, c)
	t.Logf("answered %s after %v", e.Code, time.Since(start).Round(time.Millisecond))
	if e.Code != signaling.CodeNotFound || e.Ref != "n1" || !strings.Contains(e.Message, "not found") {
		t.Fatalf("call to an unknown user during failover: %+v", e)
	}
	alive(t, c, 1)
}
