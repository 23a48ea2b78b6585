package gateway

import (
	"testing"
	"time"

	"github.com/parkway/parkway/signaling"
)

// TestFanoutPassesAClientThatDoesNotRead: a fan-out worker stuck in a write to a client
// that has stopped reading is left to finish it alone while a new worker goes on
// (gateway/edge/fanout.go), so that client never holds up a phase change for anyone
// else. Each change must return (a blocked fan-out would hang it: a deadline says so)
// and the reading client ends on the last one.
func TestFanoutPassesAClientThatDoesNotRead(t *testing.T) {
	g := startGateway(t, func(c *Config) { c.PeerTimeout = 10 * time.Minute })
	slow, _, err := g.dialSmall(t)
	if err != nil {
		t.Fatal(err)
	}
	slow.send(signaling.Encode("a", &signaling.Auth{Token: g.signIn(t, "alice")}))
	fast, _ := g.connect(t, "bob")
	writing := func() bool {
		for _, sess := range g.edge.Live() {
			if sess.Authenticated && sess.User == "alice" && sess.Writing {
				return true
			}
		}
		return false
	}
	// Stuck: in one write all through 100 ms, i.e. a write to alice blocked on her full
	// connection (a worker's, left behind, or her writer's).
	stuck := func() bool {
		for range 5 {
			if !writing() {
				return false
			}
			time.Sleep(20 * time.Millisecond)
		}
		return true
	}
	phases := []signaling.Phase{signaling.PhaseOutage, signaling.PhaseFailover, signaling.PhaseFailedOver, signaling.PhaseFailback}
	change := func(p signaling.Phase) {
		t.Helper()
		done := make(chan struct{})
		go func() { g.ctl.set(p); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatalf("a change to %s did not return within a minute: the fan-out is blocked on the client that does not read", p)
		}
	}
	i := 0
	for ; !stuck(); i++ {
		if i == 100_000 {
			t.Fatal("the client that does not read never filled its connection: the test proves nothing")
		}
		change(phases[i%len(phases)])
	}
	for range 200 {
		change(phases[i%len(phases)])
		i++
	}
	change(signaling.PhaseNormal)
	for {
		if st := expect[*signaling.State](fast); st.Phase == signaling.PhaseNormal {
			break
		}
	}
	fast.pingPong(3)
	if !stuck() {
		t.Error("the client that does not read got unstuck: the test proved nothing")
	}
}
