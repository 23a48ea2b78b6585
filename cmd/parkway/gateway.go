package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/parkway/parkway/cluster"
	"github.com/parkway/parkway/gateway"
	"github.com/parkway/parkway/gateway/configfile"
	"github.com/parkway/parkway/gateway/ua"
)

func init() { subcommands["gateway"] = runGateway }

// runGateway runs the edge gateway and its DR controller from a YAML config file
// (configfile.Parse documents the format). SIGINT and SIGTERM both stop it: open
// websockets are closed with 1001 so softphones reconnect to another gateway.
func runGateway(ctx context.Context, args []string) (err error) {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	path := fs.String("config", "", "gateway config file (YAML), e.g. configs/gateway.yaml")
	debug := fs.Bool("debug", false, "log at debug level")
	capture := fs.String("sip-capture", "", sipCaptureUsage)
	check := fs.Bool("check-config", false, "load the config, print every unsafe setting with why, and exit: status 1 if the gateway would refuse to start with it")
	cpuProfile := fs.String("cpuprofile", "", cpuProfileUsage)
	memProfile := fs.String("memprofile", "", memProfileUsage)
	var opts configfile.CheckOptions
	fs.BoolVar(&opts.DemoOnNetwork, "demo-on-network", false, "allow demo: true on an address other than loopback (anyone who reaches it signs in as any demo user)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		fs.Usage()
		return errors.New("--config is required")
	}
	fc, err := configfile.Load(*path)
	if err != nil {
		return err
	}
	findings := fc.Check(opts)
	if *check {
		return printCheck(os.Stdout, *path, findings)
	}
	if err := configfile.Refusal(findings); err != nil {
		return err
	}
	log := newLogger(*debug)
	stopProfiles, err := startProfiles(*cpuProfile, *memProfile)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stopProfiles()) }()
	stopCapture, err := startSIPCapture(*capture)
	if err != nil {
		return err
	}
	defer stopCapture()
	for _, f := range findings {
		log.Warn("unsafe setting", "setting", f.Setting, "why", f.Why)
	}
	// With a sip section, the gateway registers its users at the pools, the DR
	// controller moves them between pools through the same user agent, and calls'
	// media binds to the user agent's address.
	e := edge{
		log:        log,
		http:       fc.HTTP,
		dr:         fc.DR,
		cluster:    defaultCluster(fc.Cluster),
		ua:         fc.UA,
		gateway:    fc.Gateway,
		adminToken: fc.AdminToken,
		auditLog:   fc.AuditLog,
		// Listen for SIGTERM before anything serves: it drains (edge.serve).
		drain: drainSignal(),
		ready: func(_ *gateway.Server, url string, _ *ua.Manager) {
			fmt.Printf("Parkway gateway on %s (home %s, backup %s)\n", url, fc.DR.Home.Name, fc.DR.Backup.Name)
			if fc.Gateway.Demo {
				printDemoNotice(url, fc.AdminToken == "")
			}
		},
	}
	return e.serve(ctx)
}

// printCheck is --check-config's report: every finding, then a verdict. It returns an
// error (exit status 1) when a finding is fatal.
func printCheck(w io.Writer, path string, findings []configfile.Finding) error {
	fatal := 0
	for _, f := range findings {
		fmt.Fprintln(w, f)
		if f.Fatal {
			fatal++
		}
	}
	fmt.Fprintf(w, "%s: %d unsafe settings, %d fatal\n", path, len(findings), fatal)
	if fatal > 0 {
		return fmt.Errorf("%s: %d fatal settings: the gateway refuses to start with them", path, fatal)
	}
	return nil
}

// printDemoNotice is the one line that says a gateway runs in demo mode, and what that
// means.
func printDemoNotice(url string, adminOpen bool) {
	admin := ""
	if adminOpen {
		admin = ", and the admin API is open"
	}
	fmt.Printf("DEMO MODE at %s: anyone who reaches it signs in as any demo user, no password%s\n", url, admin)
}

// defaultCluster is c, or without a cluster section an embedded single-node one with
// JetStream in memory: every gateway runs the cluster's DR (issue #11 item 1), and one
// alone keeps its phase as long as its process, as the seed's controller did. A
// cluster section with only dataDir keeps the state on disk.
func defaultCluster(c *cluster.Config) *cluster.Config {
	if c != nil {
		return c
	}
	return &cluster.Config{}
}
