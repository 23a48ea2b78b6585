package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/parkway/parkway/gateway/admin"
	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/signaling"
)

// TestDemoGateways: `parkway demo --gateways 3` serves three gateways on consecutive
// ports, each naming itself and the cluster in GET /api/dr, and a pool stopped through
// one of them fails all three over.
func TestDemoGateways(t *testing.T) {
	// Three consecutive ports outside the kernel's ephemeral range: a port the kernel
	// handed out for :0 says nothing of the two after it, which another socket may hold.
	d := startDemoAt(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(freeRun(t, 3))), "--gateways", "3")
	host, portStr, _ := net.SplitHostPort(d.url[len("http://"):])
	port, _ := strconv.Atoi(portStr)
	url := func(i int) string { return "http://" + net.JoinHostPort(host, strconv.Itoa(port+i)) }
	type status struct {
		dr.Snapshot
		Cluster *admin.ClusterStatus `json:"cluster"`
	}
	get := func(i int) (status, error) {
		var s status
		resp, err := http.Get(url(i) + "/api/dr")
		if err != nil {
			return s, err
		}
		defer resp.Body.Close()
		return s, json.NewDecoder(resp.Body).Decode(&s)
	}
	waitAll := func(what string, ok func(int, status) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for i := 0; i < 3; {
			s, err := get(i)
			if err == nil && ok(i, s) {
				i++
				continue
			}
			if time.Now().After(deadline) {
				t.Fatalf("gateway %d: waited 30s for %s; last %+v %+v (err %v)", i+1, what, s.Snapshot, s.Cluster, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitAll("its name, 3 members and a leader", func(i int, s status) bool {
		return s.Cluster != nil && s.Cluster.Gateway == fmt.Sprintf("gw%d", i+1) && s.Cluster.Members == 3 && s.Cluster.Leader != "" && allHealthy(s.Snapshot)
	})
	resp, err := http.Post(url(1)+"/api/demo/pools/pool-a/stop", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stop pool-a on gw2: %s", resp.Status)
	}
	waitAll("failover", func(_ int, s status) bool { return s.Phase == signaling.PhaseFailover })
}
