package gateway

import (
	"testing"
	"time"

	"github.com/parkway/parkway/signaling"
)

// A user has at most MaxCallsPerUser calls going, dials included: the next call is
// refused "too-many-calls" with the request's id, and once one call ends a new one is
// placed again (issue 13: one session placed 150 calls).
func TestCallsPerUserLimit(t *testing.T) {
	poolA, poolB := sipPools(t)
	m := sipManager(t, poolA, poolB)
	f := testFactory(t)
	g := startGateway(t, func(c *Config) {
		c.SIP, c.Media, c.SignOutGrace = m, f, time.Hour
		c.MaxCallsPerUser = 2
	})
	alice, _ := g.connect(t, "alice")
	bob, _ := g.connect(t, "bob")
	waitFor(t, "alice and bob registered", func() bool {
		return len(poolA.Contacts("alice")) > 0 && len(poolA.Contacts("bob")) > 0 && g.phoneReady("alice") && g.phoneReady("bob")
	})
	first, _ := dialFrom(t, alice, "c1", "bob", false)
	dialFrom(t, alice, "c2", "bob", false)

	c3 := newTab(t)
	alice.send(request("c3", &signaling.Request{Action: signaling.ActionCall, Target: "bob", SDP: c3.offer()}))
	if e := nextError(t, alice); e.Code != signaling.CodeTooManyCalls || e.Ref != "c3" {
		t.Fatalf("the third call: %+v, want too-many-calls for c3", e)
	}

	act(alice, "h1", signaling.ActionHangup, first)
	untilState(t, alice, first, signaling.CallEnded)
	if id, _ := dialFrom(t, alice, "c4", "bob", false); id == "" {
		t.Error("no call after one ended")
	}
	alive(t, bob, 1)
}
