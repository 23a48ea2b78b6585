package failover

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The seed's table again, with three gateways (issue #11: "the seed-table tests pass
// with three gateways as they do with one"). Each cell of cells_test.go runs unchanged
// on a cluster whose three `parkway gateway` processes embed clustered NATS nodes and
// share one DR phase: the users' tabs are spread over the gateways (alice on gw1, bob
// on gw2, carol on gw3), so every call, park, transfer and retrieve crosses gateways;
// admin actions go to the gateways in turn; a phase is awaited on every gateway.

// threeGatewayCells is the parent test whose subtests startCluster gives three gateways.
const threeGatewayCells = "TestSeedTablesOnThreeGateways"

// cells3Width is how many three-gateway cells run at once. A cell spends most of its
// 10–17 s waiting for its cluster to form (JetStream's Raft election: 4–9 s) and in its
// steps' round trips, and takes ≈ a third of a core, so the twelve, run in go test's
// -parallel slots (4 in `go tool task unit`), kept the package's other tests waiting
// and were its long pole: 85 of its 112 s (issue #12). They run in slots of their own
// instead, as a second package would, beside the package's other parallel tests.
const cells3Width = 4

func TestSeedTablesOnThreeGateways(t *testing.T) {
	// Beside the other tests, not before them: a parent that is not parallel holds
	// every parallel test of the package back until its last cell ended.
	parallel(t)
	slots := make(chan struct{}, cells3Width)
	var wg sync.WaitGroup
	for _, cell := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"NotParkedWhenOutageOccurs", TestNotParkedWhenOutageOccurs},
		{"NotParkedDuringFailover", TestNotParkedDuringFailover},
		{"NotParkedDuringFailback", TestNotParkedDuringFailback},
		{"ParkedWhenOutageOccurs", TestParkedWhenOutageOccurs},
		{"ParkedDuringFailover", TestParkedDuringFailover},
		{"ParkedDuringFailback", TestParkedDuringFailback},
		{"ParkedDuringFailbackTimesOut", TestParkedDuringFailbackTimesOut},
		{"RetrievedWhenOutageOccurs", TestRetrievedWhenOutageOccurs},
		{"RetrievedDuringFailover", TestRetrievedDuringFailover},
		{"RetrievedDuringFailback", TestRetrievedDuringFailback},
		{"PlannedFailover", TestPlannedFailover},
		{"AutomaticFailoverAndFailback", TestAutomaticFailoverAndFailback},
	} {
		// Each cell's parallel(t) does nothing under this parent (isThreeGatewayCell):
		// the cells are concurrent through these goroutines, cells3Width at a time.
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			t.Run(cell.name, cell.run)
		}()
	}
	wg.Wait()
}

// isThreeGatewayCell reports whether t is a cell TestSeedTablesOnThreeGateways runs.
func isThreeGatewayCell(t testing.TB) bool {
	return strings.HasPrefix(t.Name(), threeGatewayCells+"/")
}

// gatewaysFor is how many gateways a test's cluster has: opts.gateways, or three for
// the cells run by TestSeedTablesOnThreeGateways.
func gatewaysFor(t testing.TB, opts clusterOptions) int {
	if opts.gateways == 0 && isThreeGatewayCell(t) {
		return 3
	}
	return opts.gateways
}

// startGateways starts n gateways, gw1…gwN, on the configuration writeConfigs made,
// each embedding a NATS node routed to the others', and waits until each serves.
func (c *cluster) startGateways(n int) {
	c.t.Helper()
	base, err := os.ReadFile(filepath.Join(c.dir, "gateway.yaml"))
	if err != nil {
		c.t.Fatal(err)
	}
	routes := make([]string, n)
	for i := range routes {
		routes[i] = fmt.Sprint("127.0.0.1:", freePort(c.t))
	}
	c.gwURL = map[string]string{}
	for i := range n {
		name := fmt.Sprintf("gw%d", i+1)
		c.gws = append(c.gws, name)
		yaml := string(base) + fmt.Sprintf("cluster:\n  name: %s\n  listen: %s\n  routes: [%s]\n", name, routes[i], strings.Join(routes, ", "))
		path := filepath.Join(c.dir, name+".yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			c.t.Fatal(err)
		}
		c.start(name, "gateway", "--config", path)
	}
	for _, name := range c.gws {
		// A gateway serves once its node has joined the others' (JetStream's
		// meta leader elected): longer than one step on a loaded machine.
		line := c.procs[name].waitLineWithin(c.t, gatewayLine, clusterWait)
		c.gwURL[name] = gatewayLine.FindStringSubmatch(line)[1]
	}
	c.url = c.gwURL[c.gws[0]]
	c.t.Logf("%d gateways on one DR state: %v", n, c.gwURL)
}

// gatewayNames are the gateways' process names ("gateway" for the lone one).
func (c *cluster) gatewayNames() []string {
	if len(c.gws) == 0 {
		return []string{"gateway"}
	}
	return c.gws
}

// gatewayFor is the URL of the gateway user's tab opens on: with several, the users
// in turn (alice gw1, bob gw2, carol gw3, dave gw1, erin gw2), anyone else the first.
func (c *cluster) gatewayFor(user string) string {
	if len(c.gws) < 2 {
		return c.url
	}
	i := slices.Index(append(slices.Clone(demoUsers), holdout), user)
	if i < 0 {
		i = 0
	}
	return c.gwURL[c.gws[i%len(c.gws)]]
}
