package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/parkway/parkway/gateway"
	"github.com/parkway/parkway/gateway/admin"
	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/media"
	"github.com/parkway/parkway/pool"
)

func init() { subcommands["demo"] = runDemo }

// runDemo is everything in one process: pool-a (home), pool-b (backup), the DR
// controller probing them, and the gateway with demo sign-in and the demo pool switches.
func runDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	httpAddr := fs.String("http", "127.0.0.1:8080", "address the gateway serves HTTP and websockets on")
	sipHost := fs.String("sip-host", "127.0.0.1", "address the pools' SIP listeners bind")
	portA := fs.Int("pool-a-port", 0, "pool-a's SIP port (UDP and TCP); 0 picks a free one")
	portB := fs.Int("pool-b-port", 0, "pool-b's SIP port (UDP and TCP); 0 picks a free one")
	debug := fs.Bool("debug", false, "log at debug level")
	var embedOrigins []string
	fs.Func("embed-origin", "a page origin that may embed the widget (repeatable; default "+defaultEmbedOrigin+")", func(o string) error {
		embedOrigins = append(embedOrigins, o)
		return nil
	})
	embedKey := fs.String("embed-key", gateway.DemoEmbedKey, "the key host backends present to POST /api/tickets (published: demo only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(embedOrigins) == 0 {
		embedOrigins = []string{defaultEmbedOrigin}
	}
	log := newLogger(*debug)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // SIGTERM stops the demo like SIGINT: nothing in it needs draining
		select {
		case <-drainSignal():
			cancel()
		case <-ctx.Done():
		}
	}()

	// Free ports by default, so a demo can run beside tests and the pools' own
	// config files (5070/5080) without a collision.
	ports, err := sipPorts(*sipHost, *portA, *portB)
	if err != nil {
		return err
	}
	cfgA, cfgB := pool.DemoConfigs(*sipHost)
	cfgA.Listen = net.JoinHostPort(*sipHost, strconv.Itoa(ports[0]))
	cfgB.Listen = net.JoinHostPort(*sipHost, strconv.Itoa(ports[1]))
	cfgA.Peer.Addr, cfgB.Peer.Addr = cfgB.Listen, cfgA.Listen
	// The pools outlive ctx until runDemo returns: the gateway's user agent signs its
	// users out on the way down, and those un-REGISTERs need the pools still serving.
	poolCtx, stopPools := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPools()
	pools := &demoPools{ctx: poolCtx, byName: map[string]*pool.Pool{}}
	for _, c := range []pool.Config{cfgA, cfgB} {
		p, err := pool.New(c, pool.Options{Logger: log})
		if err != nil {
			return err
		}
		if err := p.Start(poolCtx); err != nil {
			return fmt.Errorf("start %s: %w", c.Name, err)
		}
		defer p.Stop()
		pools.byName[p.Name()] = p
	}
	home, backup := pools.byName[cfgA.Name], pools.byName[cfgB.Name]

	// The gateway's SIP side: every signed-in user registers at the active pool with
	// the demo's published passwords, and the DR controller moves them (Redirector).
	creds := ua.StaticCredentials{}
	for _, u := range pool.DemoUsers {
		creds[u.Name] = u.Password
	}
	sip, err := ua.NewManager(ua.Config{
		Listen:      net.JoinHostPort(*sipHost, "0"),
		Pools:       []ua.Pool{{Name: home.Name(), Addr: home.Addr()}, {Name: backup.Name(), Addr: backup.Addr()}},
		Active:      home.Name(),
		Credentials: creds,
		Logger:      log,
	})
	if err != nil {
		return err
	}
	defer sip.Close() // before the pools stop, so the un-REGISTERs reach them

	ctl, err := dr.New(dr.Config{Home: drPool(home), Backup: drPool(backup), Redirector: sip, Logger: log})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }() // before the pools stop: Run probes them
	// DESIGN.md §2: when a pool fails, calls parked on it are hung up with a reason,
	// never left in silence (the park service that holds them is gone) — the home pool
	// at an outage, and also a pool whose failure changes no phase (home after a
	// planned failover, the backup).
	defer ctl.OnPoolDown(func(pool string) {
		wg.Go(func() { sip.EndParked(ctx, pool, "the park pool failed") })
	})()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := ctl.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("dr controller stopped", "err", err)
			cancel()
		}
	}()

	// Calls: each gets a pion PeerConnection toward the browser whose ICE offers only
	// the SIP host's address (loopback by default), and an RTP bridge bound there too.
	mediaIP, err := netip.ParseAddr(*sipHost)
	if err != nil {
		return fmt.Errorf("-sip-host %q must be an IP address for media: %w", *sipHost, err)
	}
	mf, err := media.NewFactory(&media.Options{IPs: []netip.Addr{mediaIP}})
	if err != nil {
		return err
	}

	gw, err := gateway.New(gateway.Config{
		Controller: ctl,
		Admin:      admin.Handler(ctl, pools),
		Registrar:  gateway.SIPUsers(sip),
		SIP:        sip,
		Media:      mf,
		MediaAddr:  mediaIP,
		Demo:       true,
		Logger:     log,
		// The widget: pages on these origins may frame it, and their backends buy
		// tickets with the demo's published key (README "Embedding the widget").
		EmbedOrigins: embedOrigins,
		EmbedKey:     []byte(*embedKey),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		return err
	}
	if err := gw.Assets().Built(); err != nil {
		fmt.Fprintf(os.Stderr, "warning: %v\n", err)
	}
	fmt.Printf("Parkway demo: pool-a (home) SIP %s, pool-b (backup) SIP %s, gateway SIP %s\n", home.Addr(), backup.Addr(), sip.Addr())
	fmt.Printf("Open %s/?user=alice  (users: %s)\n", baseURL(ln.Addr()), strings.Join(gateway.DemoUsers, ", "))
	return gw.Serve(ctx, ln)
}

// defaultEmbedOrigin is the Playwright host page's origin (playwright/host/).
const defaultEmbedOrigin = "http://127.0.0.2:18788"

// demoPools is admin.DemoPools over the demo's in-process pools.
type demoPools struct {
	// ctx is the demo's lifetime. A restarted pool serves until it ends, not until the
	// admin request that restarted it does.
	ctx    context.Context
	byName map[string]*pool.Pool
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
	return dr.Pool{Name: p.Name(), SIPAddr: p.Addr(), Orbits: strings.Join(ranges, ",")}
}

// sipPorts returns the two pools' ports: the ones asked for, or free ones. A SIP pool
// needs its port free for both UDP and TCP, and each pool must know the other's port
// before either starts, so ports are picked up front rather than by binding port 0.
func sipPorts(host string, want ...int) ([]int, error) {
	out := make([]int, len(want))
	for i, p := range want {
		if p != 0 {
			out[i] = p
			continue
		}
		for tries := 0; ; tries++ {
			free, err := freeUDPAndTCPPort(host)
			if err != nil {
				return nil, err
			}
			if !containsPort(out, free) {
				out[i] = free
				break
			}
			if tries > 10 {
				return nil, errors.New("no free SIP port found")
			}
		}
	}
	return out, nil
}

func containsPort(ports []int, p int) bool {
	for _, q := range ports {
		if q == p {
			return true
		}
	}
	return false
}

func freeUDPAndTCPPort(host string) (int, error) {
	for range 20 {
		tl, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return 0, err
		}
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
		tl.Close()
		if err == nil {
			ul.Close()
			return port, nil
		}
	}
	return 0, errors.New("no port free for both UDP and TCP")
}

// baseURL is what to open in a browser for a listener: an unspecified address
// (":8080", "0.0.0.0:8080") is reachable on loopback.
func baseURL(a net.Addr) string {
	host, port, _ := net.SplitHostPort(a.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func newLogger(debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
