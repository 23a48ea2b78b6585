package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"

	"github.com/parkway/parkway/cluster"
	"github.com/parkway/parkway/gateway"
	"github.com/parkway/parkway/gateway/ua"
)

// runDemoGateways is `parkway demo --gateways N`: N gateways in this process, HTTP on
// the --http port and the next N-1, over the same two pools, sharing the DR phase,
// session key and tickets on one embedded single-node NATS (in memory, no listener).
// Each has its own SIP user agent and media, as separate gateway processes would.
func runDemoGateways(ctx context.Context, f demoFlags, lns []net.Listener, pools *demoPools, drain <-chan os.Signal, log *slog.Logger) error {
	node, err := cluster.Start(cluster.Config{Name: "gw1", Logger: log})
	if err != nil {
		return err
	}
	defer node.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// SIGTERM drains every gateway.
	drains := make([]chan os.Signal, f.gateways)
	for i := range drains {
		drains[i] = make(chan os.Signal, 1)
	}
	go func() {
		select {
		case sig := <-drain:
			for _, ch := range drains {
				ch <- sig
			}
		case <-ctx.Done():
		}
	}()
	// Each gateway's welcome lists all of them, so a tab whose gateway dies moves on to
	// the next and finds its call there (issue #11).
	var urls []string
	for _, ln := range lns {
		urls = append(urls, "http://"+ln.Addr().String())
	}
	var wg sync.WaitGroup
	errs := make([]error, f.gateways)
	for i := range f.gateways {
		name := "gw" + strconv.Itoa(i+1)
		n := node
		if i > 0 {
			if n, err = node.Attach(name); err != nil {
				return err
			}
			defer n.Close()
		}
		gf := f
		gf.http = lns[i].Addr().String()
		e := demoEdge(gf, pools, log.With("gateway", name))
		e.clusterNode, e.drain, e.listener = n, drains[i], lns[i]
		e.gateway.Gateways = urls
		ready := e.ready
		e.ready = func(gw *gateway.Server, url string, sip *ua.Manager) {
			fmt.Printf("Gateway %s of %d: %s\n", name, f.gateways, url)
			if i == 0 {
				ready(gw, url, sip)
			}
		}
		wg.Go(func() {
			if errs[i] = e.serve(ctx); errs[i] != nil {
				log.Error("demo gateway stopped", "gateway", name, "err", errs[i])
			}
			cancel() // one gateway down stops the demo
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
