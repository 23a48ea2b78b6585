package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/parkway/parkway/gateway/admin"
)

func init() { subcommands["dr"] = runDR }

const drUsage = `usage: parkway dr status|failover|failback [--gateway URL] [--json] [--token TOKEN]

  status     phase, users' pool and each pool's health
  failover   complete a failover (or start a planned one from normal)
  failback   move users back to the home pool once it is healthy

Flags may come before or after the action.
`

// runDR is `parkway dr`: flags, then one admin.Client call. A refused transition exits
// non-zero with the gateway's own message.
func runDR(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dr", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), drUsage); fs.PrintDefaults() }
	gateway := fs.String("gateway", admin.DefaultGateway, "the gateway's base URL")
	asJSON := fs.Bool("json", false, "print the API's JSON instead of the human summary")
	token := fs.String("token", os.Getenv("PARKWAY_ADMIN_TOKEN"), "admin bearer token (default $PARKWAY_ADMIN_TOKEN)")

	// Accept `dr status --gateway URL` as well as `dr --gateway URL status`: the flag
	// package stops at the first non-flag, so parse what follows the action too.
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return fmt.Errorf("missing action: want one of %s", strings.Join(admin.Actions, ", "))
	}
	action := rest[0]
	if err := fs.Parse(rest[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments after %s: %s", action, strings.Join(fs.Args(), " "))
	}
	c := &admin.Client{Gateway: *gateway, Token: *token}
	return c.Command(ctx, action, os.Stdout, *asJSON)
}
