package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/parkway/parkway/gateway"
	"github.com/parkway/parkway/gateway/admin"
	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/media"
)

func init() { subcommands["gateway"] = runGateway }

// runGateway runs the edge gateway and its DR controller from a YAML config file
// (gateway.ParseConfig documents the format). SIGINT and SIGTERM both stop it: open
// websockets are closed with 1001 so softphones reconnect to another gateway.
func runGateway(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	path := fs.String("config", "", "gateway config file (YAML), e.g. configs/gateway.yaml")
	debug := fs.Bool("debug", false, "log at debug level")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		fs.Usage()
		return errors.New("--config is required")
	}
	fc, err := gateway.LoadConfig(*path)
	if err != nil {
		return err
	}
	log := newLogger(*debug)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-drainSignal():
			cancel()
		case <-ctx.Done():
		}
	}()

	// With a sip section, the gateway registers its users at the pools, and the DR
	// controller moves them between pools through the same user agent.
	var sip *ua.Manager
	if fc.UA != nil {
		uc := *fc.UA
		uc.Logger = log
		if sip, err = ua.NewManager(uc); err != nil {
			return err
		}
		defer sip.Close()
		fc.DR.Redirector = sip
		fc.Gateway.Registrar = gateway.SIPUsers(sip)
	}
	fc.DR.Logger = log
	ctl, err := dr.New(fc.DR)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	if sip != nil {
		// DESIGN.md §2: calls parked on a pool that fails are hung up with a reason —
		// the home pool at an outage, and also one that fails in a phase its failure
		// does not change (home after a planned failover, the backup).
		defer ctl.OnPoolDown(func(pool string) {
			wg.Go(func() { sip.EndParked(ctx, pool, "the park pool failed") })
		})()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := ctl.Run(ctx); err != nil {
			log.Error("dr controller stopped", "err", err)
			cancel()
		}
	}()

	cfg := fc.Gateway
	cfg.Controller = ctl
	if sip != nil {
		// Calls: each gets a pion PeerConnection toward the browser whose ICE offers
		// the SIP listener's address, and an RTP bridge bound there too, as in the demo.
		mediaIP := netip.MustParseAddrPort(sip.Addr()).Addr()
		mf, err := media.NewFactory(&media.Options{IPs: []netip.Addr{mediaIP}})
		if err != nil {
			return err
		}
		cfg.SIP, cfg.Media, cfg.MediaAddr = sip, mf, mediaIP
	}
	cfg.Admin = admin.Handler(ctl, nil, admin.WithToken(fc.AdminToken))
	cfg.Logger = log
	if fc.AdminToken == "" {
		log.Warn("the admin API has no token (adminTokenFile): anyone who reaches the gateway can fail pools over")
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", fc.HTTP)
	if err != nil {
		return err
	}
	fmt.Printf("Parkway gateway on %s (home %s, backup %s)\n", baseURL(ln.Addr()), fc.DR.Home.Name, fc.DR.Backup.Name)
	return gw.Serve(ctx, ln)
}
