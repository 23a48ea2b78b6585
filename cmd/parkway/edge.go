package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"

	"github.com/parkway/parkway/cluster"
	"github.com/parkway/parkway/gateway"
	"github.com/parkway/parkway/gateway/admin"
	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/media"
	"github.com/parkway/parkway/metrics"
)

// edge is what `parkway demo` and `parkway gateway` both run in front of two pools: the
// DR controller probing them, the SIP user agent it moves users with (when there is
// one), media for calls, and the gateway serving HTTP and websockets.
type edge struct {
	log *slog.Logger
	// http is the address the gateway serves on.
	http string
	// listener, when set, is http already bound (the demo binds it before its pools
	// pick their ports); serve serves on it instead of listening itself.
	listener net.Listener
	// dr names the pools and probes; serve fills in its Redirector and Logger.
	dr dr.Config
	// ua is the user agent's config; nil means no SIP: sessions carry the DR state and
	// refuse calls. serve fills in its Logger.
	ua *ua.Config
	// mediaIP is the one address calls' ICE offers and RTP bridges bind; zero means the
	// user agent's own.
	mediaIP netip.Addr
	// icePortMin and icePortMax bound the ICE UDP ports of calls' WebRTC side; zero:
	// any port.
	icePortMin, icePortMax uint16
	// gateway is the gateway's own settings; serve wires in the controller, the admin
	// API, SIP, media and the logger.
	gateway gateway.Config
	// demoPools and adminToken go to the admin API (admin.Handler): demoPools only in
	// the demo, and no token means the API is open.
	demoPools  admin.DemoPools
	adminToken string
	// auditLog, if set, is the file admin actions are appended to; serve refuses to
	// start when it cannot be opened.
	auditLog string
	// ready, if set, is called once the gateway listens at url, before it serves.
	ready func(gw *gateway.Server, url string, sip *ua.Manager)
	// cluster, when set, makes this gateway one of a cluster sharing the DR phase,
	// session key and spent tickets on NATS (cluster.go); clusterNode, when set, is the
	// NATS to use instead of starting one (the demo's gateways share one).
	cluster     *cluster.Config
	clusterNode *cluster.Node
	// drain, when it delivers (SIGTERM), drains the gateway (gateway.Server.Drain:
	// no new sessions or calls, calls finish up to its drainTimeout), then stops it.
	drain <-chan os.Signal
}

// serve runs the edge until ctx ends. The user agent is closed after the controller
// stops and before serve returns, so its users' un-REGISTERs reach pools that outlive it.
func (e edge) serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var auditOpts []admin.Option
	if e.auditLog != "" {
		f, err := admin.OpenAuditFile(e.auditLog, e.log)
		if err != nil {
			return err
		}
		defer f.Close()
		auditOpts = append(auditOpts, admin.WithAuditFile(f))
	}
	sip, err := e.startUA()
	if err != nil {
		return err
	}
	if sip != nil {
		defer sip.Close()
	}
	m := metrics.NewGateway()
	var ctl drState
	var shared *clusterState
	if e.cluster != nil || e.clusterNode != nil {
		if shared, err = e.joinCluster(ctx, sip, m); err != nil {
			return err
		}
		defer shared.close()
		ctl = shared.dr
	} else if ctl, err = e.controller(sip, m); err != nil {
		return err
	}
	defer runController(ctx, cancel, ctl, sip, e.log)()
	cfg, err := e.gatewayConfig(ctl, sip, auditOpts...)
	if err != nil {
		return err
	}
	shared.configure(&cfg)
	cfg.Metrics = m
	gw, err := gateway.New(cfg)
	if err != nil {
		return err
	}
	// Serve closes it too; this one is for a failure before Serve (carrying calls, the
	// listener), which would otherwise leave its goroutines and DR subscription behind.
	defer gw.Close()
	if shared != nil && sip != nil {
		stop, err := shared.carryCalls(ctx, gw, sip, e.log)
		if err != nil {
			return err
		}
		defer stop()
	}
	ln := e.listener
	if ln == nil {
		if ln, err = net.Listen("tcp", e.http); err != nil {
			return err
		}
	}
	if e.ready != nil {
		e.ready(gw, baseURL(ln.Addr()), sip)
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		select {
		case <-e.drain:
			gw.Drain(ctx)
			cancel()
		case <-ctx.Done():
		}
	}()
	err = gw.Serve(ctx, ln)
	cancel()
	<-drained
	return err
}

// startUA starts the user agent every signed-in user registers through, or returns nil
// without a ua section.
func (e edge) startUA() (*ua.Manager, error) {
	if e.ua == nil {
		return nil, nil
	}
	c := *e.ua
	c.Logger = e.log
	return ua.NewManager(c)
}

// drState is the DR state a gateway runs: its own *dr.Controller, or its share of a
// cluster's (*cluster.DR).
type drState interface {
	gateway.Controller
	admin.Controller
	Run(ctx context.Context) error
	OnParkPoolDown(fn func(pool, reparkTo string)) (cancel func())
}

// controller builds the DR controller; with a user agent, it is what the controller
// moves users with.
func (e edge) controller(sip *ua.Manager, m *metrics.Gateway) (*dr.Controller, error) {
	c := e.dr
	c.Metrics = m
	if sip != nil {
		c.Redirector = sip
	}
	c.Logger = e.log
	return dr.New(c)
}

// runController runs ctl until ctx ends, cancelling ctx if it stops on its own. With a
// user agent, calls parked on a pool that fails are hung up with a reason
// (ARCHITECTURE.md §2), never left in silence: the home pool at an outage, and also a pool whose failure
// changes no phase (home after a planned failover, the backup). The returned stop
// cancels ctx and waits for all of it.
func runController(ctx context.Context, cancel context.CancelFunc, ctl drState, sip *ua.Manager, log *slog.Logger) (stop func()) {
	var wg sync.WaitGroup
	unsubscribe := func() {}
	if sip != nil {
		// With survivable park on that pool, they are re-parked on the other pool instead
		// (ARCHITECTURE.md §3); a call whose re-park fails is hung up all the same.
		unsubscribe = ctl.OnParkPoolDown(func(pool, reparkTo string) {
			wg.Go(func() { sip.Repark(ctx, pool, reparkTo, "the park pool failed") })
		})
	}
	wg.Go(func() {
		if err := ctl.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("dr controller stopped", "err", err)
			cancel()
		}
	})
	return func() {
		unsubscribe()
		cancel()
		wg.Wait()
	}
}

// gatewayConfig is e.gateway wired to the controller, the admin API and, with a user
// agent, to SIP and media: each call gets a pion PeerConnection toward the browser whose
// ICE offers only the media address, and an RTP bridge bound there too.
func (e edge) gatewayConfig(ctl drState, sip *ua.Manager, adminOpts ...admin.Option) (gateway.Config, error) {
	cfg := e.gateway
	cfg.Controller = ctl
	anonymous := "no-token" // a gateway on loopback only may run without one
	if cfg.Demo {
		anonymous = "demo"
	}
	adminOpts = append([]admin.Option{admin.WithToken(e.adminToken), admin.WithAuditLog(e.log, anonymous)}, adminOpts...)
	cfg.Admin = admin.Handler(ctl, e.demoPools, adminOpts...)
	cfg.Logger = e.log
	if sip == nil {
		return cfg, nil
	}
	mediaIP := e.mediaIP
	if !mediaIP.IsValid() {
		mediaIP = netip.MustParseAddrPort(sip.Addr()).Addr()
	}
	mf, err := media.NewFactory(&media.Options{IPs: []netip.Addr{mediaIP}, PortMin: e.icePortMin, PortMax: e.icePortMax})
	if err != nil {
		return gateway.Config{}, err
	}
	cfg.Registrar = gateway.SIPUsers(sip)
	cfg.SIP, cfg.Media, cfg.MediaAddr = sip, mf, mediaIP
	return cfg, nil
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
