package configfile

import (
	"testing"
	"time"
)

// TestClusterWithAutomaticTimers: a cluster section and the automatic failover and
// failback timers go together (the cluster's leader applies them).
func TestClusterWithAutomaticTimers(t *testing.T) {
	dir := writeSecrets(t)
	conf := goodConfig + "autoFailoverAfter: 30s\nautoFailbackAfter: 5m\ncluster:\n  name: gw1\n"
	fc, err := Parse([]byte(conf), dir)
	if err != nil {
		t.Fatal(err)
	}
	if fc.Cluster == nil || fc.Cluster.Name != "gw1" || fc.DR.AutoFailoverAfter != 30*time.Second || fc.DR.AutoFailbackAfter != 5*time.Minute {
		t.Fatalf("cluster %+v, timers %v/%v; want gw1, 30s/5m", fc.Cluster, fc.DR.AutoFailoverAfter, fc.DR.AutoFailbackAfter)
	}
}
