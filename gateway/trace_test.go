package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parkway/parkway/pool"
	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/siptest"
)

// logBuffer is one process's log: slog text lines, read while written.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines are the log's lines that hold s.
func (b *logBuffer) lines(s string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.buf.String(), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// One call's trace id, minted by the gateway and sent in the call message, is in the
// gateway's log, in pool-a's (which routes alice's INVITE to its peer) and in pool-b's
// (which routes it to erin's phone), each with its own logger as separate processes
// would have. A parked call's id is in the park service's log lines and rides on the
// parked party's INVITE to park@, which the gateway's user agent sends on its REFER.
func TestTraceFollowsACallThroughGatewayAndBothPools(t *testing.T) {
	var gwLog, logA, logB logBuffer
	cfgA, cfgB := demoPoolConfigs(t)
	var pools []*pool.Pool
	for i, c := range []pool.Config{cfgA, cfgB} {
		c.Users = append(c.Users, phoneUsers...)
		p, err := pool.New(c, pool.Options{Logger: []*logBuffer{&logA, &logB}[i].logger()})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Stop() })
		pools = append(pools, p)
	}
	poolA, poolB := pools[0], pools[1]
	m := sipManager(t, poolA, poolB)
	g := startGateway(t, func(c *Config) {
		c.SIP, c.Media, c.SignOutGrace = m, testFactory(t), time.Hour
		c.Logger = gwLog.logger()
	})
	aliceWS, _ := g.connect(t, "alice")
	bobWS, _ := g.connect(t, "bob")
	ready(t, g, poolA, "alice", "bob")

	// erin's phone is registered at pool-b: alice's call goes pool-a → pool-b → erin.
	erin := siptest.NewPhone(t, siptest.PhoneOptions{User: "erin", Password: "erin-sip", Domain: poolB.Domain(), Proxy: poolB.Addr(), ToneHz: phoneHz})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := erin.Register(ctx, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	tab := newBrowser(t, true)
	aliceWS.send(request("d1", &signaling.Request{Action: signaling.ActionCall, Target: "erin", SDP: tab.offer().SDP}))
	var pc *siptest.Call
	select {
	case pc = <-erin.Incoming():
	case <-ctx.Done():
		t.Fatal("erin's phone never rang")
	}
	if err := pc.Answer(ctx); err != nil {
		t.Fatal(err)
	}
	_, active := nextCall(t, aliceWS, "alice's call to erin active", func(_ signaling.Envelope, c *signaling.Call) bool {
		return c.State == signaling.CallActive
	})
	trace := active.Trace
	if !signaling.ValidTrace(trace) {
		t.Fatalf("alice's call message has trace %q", trace)
	}
	waitFor(t, "the trace in the gateway's, pool-a's and pool-b's logs", func() bool {
		return len(gwLog.lines("trace="+trace)) > 0 && len(logA.lines("trace="+trace)) > 0 && len(logB.lines("trace="+trace)) > 0
	})
	t.Logf("gateway: %s", gwLog.lines("trace=" + trace)[0])
	t.Logf("pool-a:  %s", logA.lines("trace=" + trace)[0])
	t.Logf("pool-b:  %s", logB.lines("trace=" + trace)[0])
	act(aliceWS, "bye", signaling.ActionHangup, active.ID)
	ended(t, aliceWS, active.ID)

	// Alice calls bob and parks him: bob's user agent follows the REFER with an INVITE
	// to park@ that carries the call's trace, and the park service logs its events
	// with it.
	aliceID, bobID, _, _ := establish(t, aliceWS, bobWS, "bob")
	// Bob's side of the call took its trace from alice's INVITE, through pool-a.
	parkTrace := traceOf(t, &gwLog, aliceID)
	if got := traceOf(t, &gwLog, bobID); got != parkTrace {
		t.Fatalf("bob's call has trace %q, alice's %q", got, parkTrace)
	}
	act(aliceWS, "park", signaling.ActionPark, aliceID)
	ended(t, aliceWS, aliceID)
	waitFor(t, "the park service's 'parked' event with the call's trace", func() bool {
		for _, l := range logA.lines("trace=" + parkTrace) {
			if strings.Contains(l, "park event") && strings.Contains(l, "state=parked") {
				return true
			}
		}
		return false
	})
	if len(gwLog.lines("trace="+parkTrace)) == 0 {
		t.Fatal("the parked call's trace is not in the gateway's log")
	}
}

// traceOf is the trace the gateway logged for call id.
func traceOf(t *testing.T, log *logBuffer, id string) string {
	t.Helper()
	for _, l := range log.lines("call=" + id) {
		if _, after, ok := strings.Cut(l, " trace="); ok {
			return strings.Fields(after)[0]
		}
	}
	t.Fatalf("no log line with call=%s and a trace", id)
	return ""
}
