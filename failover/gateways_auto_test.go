package failover

import (
	"strings"
	"testing"

	"github.com/parkway/parkway/browsertest"
	"github.com/parkway/parkway/signaling"
)

// TestThreeGatewaysAutomatic: autoFailoverAfter and autoFailbackAfter with a cluster
// section behave as on one gateway (TestAutomaticFailoverAndFailback). pool-a's death
// ends in failed-over with no admin even though the leading gateway is SIGKILLed while
// the failover waits for its timer — the deadline is in the phase record, and a new
// leader keeps it — and pool-a's return brings the survivors' tabs back to normal.
func TestThreeGatewaysAutomatic(t *testing.T) {
	parallel(t)
	g := startThreeGatewaysWith(t, nil, func(yaml string) string {
		for _, key := range []string{"autoFailoverAfter", "autoFailbackAfter"} {
			if !strings.Contains(yaml, key+": 0s\n") {
				t.Fatalf("gateway config has no %q to set:\n%s", key+": 0s", yaml)
			}
		}
		// Failover waits long enough for the test to kill the leader first (if it
		// does not, the test still checks the rest).
		yaml = strings.Replace(yaml, "autoFailoverAfter: 0s\n", "autoFailoverAfter: 5s\n", 1)
		return strings.Replace(yaml, "autoFailbackAfter: 0s\n", "autoFailbackAfter: 1s\n", 1)
	})
	tabs := map[string]*browsertest.Phone{}
	for n, user := range map[string]string{"gw1": "alice", "gw2": "bob", "gw3": "carol"} {
		tabs[n] = g.phoneOn(n, user)
	}

	g.kill("pool-a")
	all := g.waitAll("failover or failed-over", func(s clusterDR) bool {
		return s.Phase == signaling.PhaseFailover || s.Phase == signaling.PhaseFailedOver
	})
	leader := g.leader()
	if all[leader].Phase == signaling.PhaseFailover {
		g.kill(leader)
		t.Logf("leader %s SIGKILLed during failover", leader)
	} else {
		t.Logf("failed-over before the leader could be killed (loaded machine): the leader change is not exercised")
	}
	g.waitAll("failed-over with no admin", func(s clusterDR) bool {
		return s.Phase == signaling.PhaseFailedOver && s.ActivePool == "pool-b"
	})
	survivors := survivingTabs(g, tabs)
	for _, tab := range survivors {
		if err := tab.WaitPhase(step(t), signaling.PhaseFailedOver); err != nil {
			t.Fatal(err)
		}
	}

	g.startPool("pool-a")
	g.waitAll("normal with no admin", func(s clusterDR) bool {
		return s.Phase == signaling.PhaseNormal && healthy(s.Snapshot, "pool-a") && s.ActivePool == "pool-a"
	})
	for _, tab := range survivors {
		if err := tab.WaitPhase(step(t), signaling.PhaseNormal); err != nil {
			t.Fatal(err)
		}
	}
}

// survivingTabs are the tabs whose gateway is still running.
func survivingTabs(g *threeGateways, tabs map[string]*browsertest.Phone) []*browsertest.Phone {
	var out []*browsertest.Phone
	for n, tab := range tabs {
		if !isDone(g.procs[n]) {
			out = append(out, tab)
		}
	}
	return out
}
