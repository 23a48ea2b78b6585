package failover

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parkway/parkway/signaling"
)

// readyz is the gateway's /readyz status and body.
func (c *cluster) readyz() (int, string) {
	c.t.Helper()
	cl := http.Client{Timeout: 5 * time.Second}
	res, err := cl.Get(c.url + "/readyz")
	if err != nil {
		c.t.Fatalf("GET /readyz: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.TrimSpace(string(b))
}

// SIGTERM drains the `parkway gateway` process: /readyz answers 503 "draining" at once,
// a new call is refused "draining", the call in progress goes on with its audio, and
// the process exits (status 0) once that call has been hung up — not before. The
// call's trace id, from its call message, is in the gateway's and pool-a's logs.
func TestGatewaySIGTERMDrains(t *testing.T) {
	parallel(t)
	c := startCluster(t, clusterOptions{})
	alice, bob := c.phone("alice"), c.phone("bob")
	caller, callee := connectCall(t, alice, bob)
	trace := caller.Last().Trace
	if !signaling.ValidTrace(trace) || callee.Last().Trace != trace {
		t.Fatalf("traces: caller %q, callee %q", trace, callee.Last().Trace)
	}
	for _, name := range []string{"gateway", "pool-a"} {
		c.procs[name].waitLine(t, regexp.MustCompile(`trace=`+trace))
	}

	gw := c.procs["gateway"]
	if code, body := c.readyz(); code != http.StatusOK {
		t.Fatalf("/readyz before SIGTERM: %d %q", code, body)
	}
	if err := gw.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	gw.waitLine(t, regexp.MustCompile(`draining: no new sessions or calls`))
	if code, body := c.readyz(); code != http.StatusServiceUnavailable || body != "draining" {
		t.Fatalf("/readyz while draining: %d %q", code, body)
	}
	_, err := alice.Call(step(t), "carol")
	refusal(t, "a new call while draining", err, signaling.CodeDraining,
		"This gateway is shutting down and takes no new calls; the softphone reconnects to another one.")
	talking(t, "alice", caller, "bob", callee)
	select {
	case <-gw.done:
		t.Fatalf("the gateway exited with a call up:\n%s", gw.tail(20))
	case <-time.After(500 * time.Millisecond):
	}
	if err := caller.Hangup(step(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gw.done:
	case <-time.After(wait):
		t.Fatalf("the gateway did not exit within %v of its last call ending:\n%s", wait, gw.tail(20))
	}
	if code := gw.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("the gateway exited with status %d:\n%s", code, gw.tail(20))
	}
	gw.waitLine(t, regexp.MustCompile(`drained: no calls left`))
}
