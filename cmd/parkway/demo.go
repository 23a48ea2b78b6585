package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parkway/parkway/gateway"
	"github.com/parkway/parkway/gateway/admin"
	"github.com/parkway/parkway/gateway/configfile"
	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/internal/demousers"
	"github.com/parkway/parkway/internal/devca"
	"github.com/parkway/parkway/internal/freeport"
	"github.com/parkway/parkway/media"
	"github.com/parkway/parkway/pool"
)

func init() { subcommands["demo"] = runDemo }

// runDemo is everything in one process: pool-a (home), pool-b (backup), the DR
// controller probing them, and the gateway with demo sign-in and the demo pool switches.
func runDemo(ctx context.Context, args []string) error {
	f, err := parseDemoFlags(args)
	if err != nil {
		return err
	}
	log := newLogger(f.debug)
	drain := drainSignal() // SIGTERM drains the gateway, then everything stops
	stopCapture, err := startSIPCapture(f.sipCapture)
	if err != nil {
		return err
	}
	defer stopCapture()
	// The gateways' HTTP ports are bound before the pools pick theirs: the pools pick
	// free ports from a range that may hold the port --http names, and a pool that took
	// it would leave the gateway unable to start.
	lns, err := listenDemoHTTP(f)
	if err != nil {
		return err
	}
	defer func() {
		for _, ln := range lns {
			ln.Close() // serve closed it already unless it failed before serving
		}
	}()
	// The pools outlive ctx until runDemo returns: the gateway's user agent signs its
	// users out on the way down, and those un-REGISTERs need the pools still serving.
	pools, stopPools, err := startDemoPools(context.WithoutCancel(ctx), f, log)
	if err != nil {
		return err
	}
	defer stopPools()
	if f.gateways > 1 {
		return runDemoGateways(ctx, f, lns, pools, drain, log)
	}
	e := demoEdge(f, pools, log)
	e.drain, e.listener = drain, lns[0]
	return e.serve(ctx)
}

// listenDemoHTTP binds the demo's HTTP listeners: --http, and with --gateways N the
// next N-1 ports too.
func listenDemoHTTP(f demoFlags) ([]net.Listener, error) {
	addrs := []string{f.http}
	if f.gateways > 1 {
		host, portStr, err := net.SplitHostPort(f.http)
		if err != nil {
			return nil, fmt.Errorf("--http %q: %w", f.http, err)
		}
		port, err := strconv.Atoi(portStr)
		if err != nil || port <= 0 || port+f.gateways-1 > 65535 {
			return nil, fmt.Errorf("--http %q: with --gateways the port must be fixed (not 0) and leave room for %d more", f.http, f.gateways-1)
		}
		addrs = addrs[:0]
		for i := range f.gateways {
			addrs = append(addrs, net.JoinHostPort(host, strconv.Itoa(port+i)))
		}
	}
	var lns []net.Listener
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, err
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// demoFlags are `parkway demo`'s flags.
type demoFlags struct {
	http         string
	sipHost      string
	sipIP        netip.Addr // sipHost: calls' media binds there too
	portA, portB int        // 0: a free port of poolPorts
	// poolPorts is where the pools' SIP, TLS and park ports are picked (--pool-ports).
	poolPorts    freeport.Range
	debug        bool
	drainTimeout time.Duration
	sipCapture   string
	embedOrigins []string
	embedKey     string
	// onNetwork allows an http address other than loopback (--demo-on-network).
	onNetwork bool
	// survivablePark turns survivable park on for both pools (--survivable-park).
	survivablePark bool
	// reattachGrace and reattachHold: a call whose tab went away (issue 10).
	reattachGrace time.Duration
	reattachHold  media.Hold
	// icePortMin and icePortMax bound the gateway's ICE UDP ports (--ice-ports);
	// both zero: any port.
	icePortMin, icePortMax uint16
	// gateways is how many gateways serve (--gateways): more than one share one
	// embedded NATS as a cluster (democluster.go).
	gateways int
}

func parseDemoFlags(args []string) (demoFlags, error) {
	var f demoFlags
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.StringVar(&f.http, "http", "127.0.0.1:8080", "address the gateway serves HTTP and websockets on")
	fs.StringVar(&f.sipHost, "sip-host", "127.0.0.1", "address the pools' SIP listeners bind")
	// Free ports by default, so a demo can run beside tests and the pools' own config
	// files (5070/5080) without a collision.
	fs.IntVar(&f.portA, "pool-a-port", 0, "pool-a's SIP port (UDP and TCP); 0 picks a free one")
	fs.IntVar(&f.portB, "pool-b-port", 0, "pool-b's SIP port (UDP and TCP); 0 picks a free one")
	poolPorts := fs.String("pool-ports", "", "MIN-MAX: the ports the pools' SIP, TLS and park listeners are picked from, so a stopped pool gets its ports back when started; empty: "+freeport.Default().String()+" (below the kernel's ephemeral ports)")
	fs.BoolVar(&f.debug, "debug", false, "log at debug level")
	fs.StringVar(&f.sipCapture, "sip-capture", "", sipCaptureUsage)
	fs.DurationVar(&f.drainTimeout, "drain-timeout", gateway.DefaultDrainTimeout, "on SIGTERM, how long calls may go on before the demo exits anyway")
	fs.Func("embed-origin", "a page origin that may embed the widget (repeatable; default "+defaultEmbedOrigin+")", func(o string) error {
		f.embedOrigins = append(f.embedOrigins, o)
		return nil
	})
	fs.StringVar(&f.embedKey, "embed-key", gateway.DemoEmbedKey, "the key host backends present to POST /api/tickets (published: demo only)")
	fs.BoolVar(&f.onNetwork, "demo-on-network", false, "allow an --http address other than loopback: anyone who reaches it signs in as any demo user and drives the admin API")
	fs.BoolVar(&f.survivablePark, "survivable-park", false, "re-park a call parked on a pool that dies on the other pool instead of hanging it up, when the parked party is a browser user (beyond Lync; off: the seed's drop)")
	fs.DurationVar(&f.reattachGrace, "reattach-grace", gateway.DefaultReattachGrace, "how long a call whose tab went away waits for a tab of its user to take it back")
	hold := fs.String("reattach-hold", "silence", "what the far end hears meanwhile: silence or music")
	fs.IntVar(&f.gateways, "gateways", 1, "how many gateways to run, on the --http port and the next ones, sharing the DR phase on one embedded NATS (1: a single gateway, as always)")
	icePorts := fs.String("ice-ports", "", "MIN-MAX: the UDP ports the gateway's WebRTC (ICE) side uses; empty: any")
	if err := fs.Parse(args); err != nil {
		return demoFlags{}, err
	}
	if f.reattachGrace <= 0 {
		return demoFlags{}, fmt.Errorf("--reattach-grace %v must be positive", f.reattachGrace)
	}
	var err error
	if f.reattachHold, err = media.ParseHold(*hold); err != nil {
		return demoFlags{}, fmt.Errorf("--reattach-hold %q must be silence or music", *hold)
	}
	if *icePorts != "" {
		lo, hi, ok := strings.Cut(*icePorts, "-")
		a, errA := strconv.ParseUint(lo, 10, 16)
		b, errB := strconv.ParseUint(hi, 10, 16)
		if !ok || errA != nil || errB != nil || a == 0 || a > b {
			return demoFlags{}, fmt.Errorf("--ice-ports %q must be MIN-MAX, two ports with MIN ≤ MAX", *icePorts)
		}
		f.icePortMin, f.icePortMax = uint16(a), uint16(b)
	}
	f.poolPorts = freeport.Default()
	if *poolPorts != "" {
		if f.poolPorts, err = freeport.ParseRange(*poolPorts); err != nil {
			return demoFlags{}, fmt.Errorf("--pool-ports: %w", err)
		}
	}
	if f.gateways < 1 || f.gateways > 9 {
		return demoFlags{}, fmt.Errorf("--gateways %d must be 1 to 9", f.gateways)
	}
	if !f.onNetwork && !configfile.LoopbackOnly(f.http) {
		return demoFlags{}, fmt.Errorf("--http %q is not a loopback address: the demo signs anyone in as any user and its admin API is open, so it serves on loopback (127.0.0.1:PORT) only; add --demo-on-network to serve it to the network anyway", f.http)
	}
	if len(f.embedOrigins) == 0 {
		f.embedOrigins = []string{defaultEmbedOrigin}
	}
	ip, err := netip.ParseAddr(f.sipHost)
	if err != nil {
		return demoFlags{}, fmt.Errorf("-sip-host %q must be an IP address for media: %w", f.sipHost, err)
	}
	f.sipIP = ip
	return f, nil
}

// startDemoPools starts pool-a and pool-b on the flags' SIP host and ports. They serve
// until stop is called, whenever ctx ends; a restarted pool serves as long.
func startDemoPools(ctx context.Context, f demoFlags, log *slog.Logger) (pools *demoPools, stop func(), err error) {
	cfgA, cfgB, err := pool.DemoConfigsIn(f.sipHost, f.portA, f.portB, f.poolPorts)
	if err != nil {
		return nil, nil, err
	}
	cfgA.Park.Survivable, cfgB.Park.Survivable = f.survivablePark, f.survivablePark
	// The gateway and the pools speak SIP over TLS, with certificates from a CA made
	// now and forgotten at exit; phones and SIPp keep the pools' UDP and TCP.
	ca, err := devca.New("parkway demo CA (throw-away)", 7*24*time.Hour)
	if err != nil {
		return nil, nil, err
	}
	if err := pool.DemoTLSIn(&cfgA, &cfgB, ca, f.poolPorts); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	pools = &demoPools{ctx: ctx, byName: map[string]*pool.Pool{}, ca: ca}
	var started []*pool.Pool
	stop = func() {
		for _, p := range slices.Backward(started) {
			p.Stop()
		}
		cancel()
	}
	for _, c := range []pool.Config{cfgA, cfgB} {
		c.HTTP = net.JoinHostPort(f.sipHost, "0") // each pool's /metrics and health, on a free port
		p, err := startPool(ctx, c, log)
		if err != nil {
			stop()
			return nil, nil, err
		}
		started = append(started, p)
		pools.byName[p.Name()] = p
	}
	pools.home, pools.backup = started[0], started[1]
	for _, p := range started {
		addr, _, err := p.ServeOps(ctx)
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("%s: http: %w", p.Name(), err)
		}
		pools.ops = append(pools.ops, p.Name()+" http://"+addr)
	}
	return pools, stop, nil
}

func startPool(ctx context.Context, c pool.Config, log *slog.Logger) (*pool.Pool, error) {
	p, err := pool.New(c, pool.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	if err := p.Start(ctx); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	return p, nil
}

// demoEdge is the demo's gateway side: every signed-in user registers at the active pool
// with the demo's published passwords, the DR controller moves them, and calls' media
// binds to the pools' SIP host (loopback by default). Pages on the embed origins may
// frame the widget, and their backends buy tickets with the demo's published key
// (README "Embedding the widget").
func demoEdge(f demoFlags, pools *demoPools, log *slog.Logger) edge {
	home, backup := pools.home, pools.backup
	creds := ua.StaticCredentials{}
	for _, u := range demousers.All {
		creds[u.Name] = u.Password
	}
	poolTLS := &tls.Config{RootCAs: pools.ca.Pool(), MinVersion: tls.VersionTLS12}
	return edge{
		log:  log,
		http: f.http,
		dr:   dr.Config{Home: drPool(home), Backup: drPool(backup), TLS: poolTLS},
		// The DR phase on an embedded single-node NATS in memory, as a gateway's default.
		cluster: defaultCluster(nil),
		ua: &ua.Config{
			Listen: net.JoinHostPort(f.sipHost, "0"),
			Pools: []ua.Pool{
				{Name: home.Name(), Addr: home.TLSAddr(), Transport: "TLS"},
				{Name: backup.Name(), Addr: backup.TLSAddr(), Transport: "TLS"},
			},
			Active:      home.Name(),
			Credentials: creds,
			TLS:         poolTLS,
		},
		mediaIP:    f.sipIP,
		icePortMin: f.icePortMin,
		icePortMax: f.icePortMax,
		gateway: gateway.Config{
			DrainTimeout: f.drainTimeout,
			Demo:         true,
			EmbedOrigins: f.embedOrigins,
			EmbedKey:     []byte(f.embedKey),
			// Every tab and test browser of the machine comes from 127.0.0.1.
			MaxSessionsPerIP: gateway.DemoMaxSessionsPerIP,
			ReattachGrace:    f.reattachGrace,
			ReattachHold:     f.reattachHold,
		},
		demoPools: pools,
		ready: func(gw *gateway.Server, url string, sip *ua.Manager) {
			if err := gw.Assets().Built(); err != nil {
				fmt.Fprintf(os.Stderr, "warning: %v\n", err)
			}
			fmt.Printf("Parkway demo: pool-a (home) SIP %s, pool-b (backup) SIP %s, gateway SIP %s\n", home.Addr(), backup.Addr(), sip.Addr())
			fmt.Printf("SIP over TLS: gateway → pools and pool ↔ pool on %s and %s, certificates from a throw-away CA made at start; phones and SIPp use UDP/TCP above\n", home.TLSAddr(), backup.TLSAddr())
			fmt.Printf("Open %s/?user=alice  (users: %s)\n", url, strings.Join(demousers.Names(), ", "))
			printDemoNotice(url, true)
			fmt.Printf("Operations: gateway %s/metrics, /healthz, /readyz; pools %s\n", url, strings.Join(pools.ops, ", "))
		},
	}
}

// defaultEmbedOrigin is the Playwright host page's origin (playwright/host/).
const defaultEmbedOrigin = "http://127.0.0.2:18788"

// demoPools is admin.DemoPools over the demo's in-process pools.
type demoPools struct {
	// ctx is the demo's lifetime. A restarted pool serves until it ends, not until the
	// admin request that restarted it does.
	ctx          context.Context
	byName       map[string]*pool.Pool
	home, backup *pool.Pool
	// ops are the pools' operations endpoints ("pool-a http://127.0.0.1:PORT"), printed at start.
	ops []string
	ca  *devca.CA // signed the pools' TLS certificates; trusted by the gateway
}

var _ admin.DemoPools = (*demoPools)(nil)

func (d *demoPools) get(name string) (*pool.Pool, error) {
	p, ok := d.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", admin.ErrUnknownPool, name)
	}
	return p, nil
}

func (d *demoPools) StopPool(name string) error {
	p, err := d.get(name)
	if err != nil {
		return err
	}
	return p.Stop()
}

func (d *demoPools) StartPool(ctx context.Context, name string) error {
	p, err := d.get(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.Running() {
		return nil // starting a running pool is a no-op, as stopping a stopped one is
	}
	return p.Start(d.ctx)
}

func drPool(p *pool.Pool) dr.Pool {
	var ranges []string
	for _, r := range p.OrbitRanges() {
		ranges = append(ranges, r.Start+"-"+r.End)
	}
	if addr := p.TLSAddr(); addr != "" {
		return dr.Pool{Name: p.Name(), SIPAddr: addr, Transport: "TLS", Orbits: strings.Join(ranges, ","), SurvivablePark: p.SurvivablePark()}
	}
	return dr.Pool{Name: p.Name(), SIPAddr: p.Addr(), Orbits: strings.Join(ranges, ","), SurvivablePark: p.SurvivablePark()}
}
