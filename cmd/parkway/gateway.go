package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/parkway/parkway/gateway"
	"github.com/parkway/parkway/gateway/ua"
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
	if fc.AdminToken == "" {
		log.Warn("the admin API has no token (adminTokenFile): anyone who reaches the gateway can fail pools over")
	}
	ctx, cancel := stopOnDrain(ctx)
	defer cancel()
	// With a sip section, the gateway registers its users at the pools, the DR
	// controller moves them between pools through the same user agent, and calls'
	// media binds to the user agent's address.
	e := edge{
		log:        log,
		http:       fc.HTTP,
		dr:         fc.DR,
		ua:         fc.UA,
		gateway:    fc.Gateway,
		adminToken: fc.AdminToken,
		ready: func(_ *gateway.Server, url string, _ *ua.Manager) {
			fmt.Printf("Parkway gateway on %s (home %s, backup %s)\n", url, fc.DR.Home.Name, fc.DR.Backup.Name)
		},
	}
	return e.serve(ctx)
}
