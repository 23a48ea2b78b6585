package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/parkway/parkway/metrics"
	"github.com/parkway/parkway/park"
	"github.com/parkway/parkway/sip/inorder"
	"github.com/parkway/parkway/sip/sipnet"
)

// Pool is one SIP pool. Its registrations and settings live as long as the Pool; its
// sockets, SIP stack and park service live from Start to Stop (a "node"), so Stop can be
// as abrupt as a crash and Start can bring the same pool back on the same address.
type Pool struct {
	cfg      Config
	opt      Options
	log      *slog.Logger
	users    map[string]User // by name
	bindings BindingStore
	nonces   *nonces
	flood    *floodGate
	overload *overloadGate              // nil: admission control off (overload.go)
	parkPing atomic.Pointer[queueProbe] // the gate's ping to the park service's socket
	throttle *authThrottle
	tls      *tlsMaterial // nil without a TLS section

	draining atomic.Bool
	inflight atomic.Int64
	metrics  *metrics.Pool // Options.Metrics, or one of its own (ops.go)

	// mu guards node, addr and the drained channel: Start, Stop and Drain may race with
	// each other and with the gateway's demo API.
	mu      sync.Mutex
	node    *node
	addr    string        // host:port bound by the first Start, reused by later ones
	tlsAddr string        // the same for the TLS listener
	park    *park.Service // created by the first Start, restarted by later ones
	// drained is closed once draining and nothing is parked, or when a draining pool
	// stops; a Start after that gives the new run a fresh one (drainedShut says it is
	// closed, so it is closed once).
	drained     chan struct{}
	drainedShut bool
}

// New checks cfg and builds a stopped pool. cfg and opt are copied; New keeps no
// reference to the caller's slices.
func New(cfg Config, opt Options) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pool config: %w", err)
	}
	cfg = cfg.clone()
	cfg.Realm = cfg.realm()
	if cfg.Domain == "" {
		cfg.Domain = cfg.Name
	}
	if len(cfg.DigestAlgorithms) == 0 {
		cfg.DigestAlgorithms = append([]string(nil), digestAlgorithms...)
		if cfg.hasHA1Users() {
			cfg.DigestAlgorithms = []string{"MD5"} // an HA1 hash can only check MD5
		}
	}
	for i, a := range cfg.DigestAlgorithms {
		cfg.DigestAlgorithms[i] = strings.ToUpper(a)
	}
	opt = opt.withDefaults()
	p := &Pool{
		cfg:      cfg,
		opt:      opt,
		log:      opt.Logger.With("pool", cfg.Name),
		users:    make(map[string]User, len(cfg.Users)),
		bindings: newMemoryBindings(),
		drained:  make(chan struct{}),
	}
	for _, u := range cfg.Users {
		p.users[u.Name] = u
	}
	p.nonces = newNonces(cfg.Realm, opt.NonceTTL, opt.Now)
	if cfg.FloodLimit.PerSecond == 0 {
		cfg.FloodLimit.PerSecond = DefaultFloodRate
	}
	if cfg.FloodLimit.Burst == 0 {
		cfg.FloodLimit.Burst = DefaultFloodBurst
	}
	p.cfg.FloodLimit = cfg.FloodLimit
	p.flood = newFloodGate(cfg.FloodLimit.PerSecond, cfg.FloodLimit.Burst)
	p.overload = newOverloadGate(cfg.Overload)
	p.throttle = newAuthThrottle(opt)
	var err error
	if p.tls, err = loadTLS(cfg.TLS); err != nil {
		return nil, fmt.Errorf("pool config: %w", err)
	}
	p.initMetrics()
	return p, nil
}

func (c Config) clone() Config {
	c.Users = append([]User(nil), c.Users...)
	c.DigestAlgorithms = append([]string(nil), c.DigestAlgorithms...)
	if c.TLS != nil {
		t := *c.TLS
		c.TLS = &t
	}
	c.Park.Orbits = append([]Range(nil), c.Park.Orbits...)
	if c.Peer != nil {
		peer := *c.Peer
		peer.Orbits = append([]Range(nil), peer.Orbits...)
		c.Peer = &peer
	}
	return c
}

// Name is the pool's configured name.
func (p *Pool) Name() string { return p.cfg.Name }

// Domain is the pool's SIP domain.
func (p *Pool) Domain() string { return p.cfg.Domain }

// Realm is the digest realm of the pool's challenges (Config.Realm).
func (p *Pool) Realm() string { return p.cfg.Realm }

// OrbitRanges are this pool's park orbits.
func (p *Pool) OrbitRanges() []Range { return append([]Range(nil), p.cfg.Park.Orbits...) }

// SurvivablePark reports whether this pool's park service takes re-parks of calls whose
// park pool died (park.Config.Survivable; issue #10, opt-in).
func (p *Pool) SurvivablePark() bool { return p.cfg.Park.Survivable }

// Addr is the SIP host:port the pool is (or was last) bound to; before the first Start it
// is the configured Listen address.
func (p *Pool) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.addr != "" {
		return p.addr
	}
	return p.cfg.Listen
}

// ParkAddr is the park service's own SIP address while running, else "".
func (p *Pool) ParkAddr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.node == nil || p.park == nil {
		return ""
	}
	return p.park.Addr()
}

// Running reports whether the pool is serving (between Start and Stop).
func (p *Pool) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.node != nil
}

// Draining reports whether Drain was called.
func (p *Pool) Draining() bool { return p.draining.Load() }

// Contacts returns user's live registered contacts, newest first.
func (p *Pool) Contacts(user string) []string {
	var out []string
	for _, b := range p.bindings.Get(user, p.opt.Now()) {
		out = append(out, b.Contact.String())
	}
	return out
}

// Start binds UDP and TCP on the pool's address, starts the park service and serves until
// Stop or until ctx ends. It returns once everything is listening.
func (p *Pool) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.node != nil {
		return errors.New("pool: already running")
	}
	if p.drainedShut {
		// The previous run drained (or was stopped while draining): this one is not
		// drained until it is drained again.
		p.drained = make(chan struct{})
		p.drainedShut = false
		if p.draining.Load() {
			// The context ended the last run while draining (Stop would have cleared
			// draining): this run drains too, so it needs its own watcher.
			go p.watchDrain(p.drained)
		}
	}
	addr := p.addr
	if addr == "" {
		addr = p.cfg.Listen
	}
	n, err := startNode(ctx, p, addr)
	if err != nil {
		return err
	}
	p.node = n
	p.addr = n.addr
	if n.tlsL != nil {
		p.tlsAddr = n.tlsL.Addr().String()
		p.log.Info("pool serving", "sip", n.addr, "sip-tls", p.tlsAddr, "park", n.parkAddr())
	} else {
		p.log.Info("pool serving", "sip", n.addr, "park", n.parkAddr())
	}
	if p.cfg.UnauthenticatedCalls {
		p.log.Warn("calls are not authenticated (authenticateCalls: false): anyone who reaches " + n.addr + " can call as any of this pool's users")
	}
	return nil
}

// Stop closes the SIP listeners and connections and stops the park service without
// sending BYEs, the way a crash would: parked parties are left to notice by themselves,
// which is exactly what the disaster-recovery demo shows. Registrations survive, as if
// kept in a back-end store. Start may be called again.
func (p *Pool) Stop() error {
	p.mu.Lock()
	n := p.node
	p.node = nil
	if n != nil && p.draining.Load() {
		p.shutDrainedLocked() // a stopped pool cuts nobody off any more
	}
	p.mu.Unlock()
	if n == nil {
		return nil
	}
	p.draining.Store(false)
	err := n.stop()
	p.log.Info("pool stopped", "sip", n.addr)
	return err
}

// Drain is SIGTERM's graceful half: OPTIONS answers 503 (so health checks move users
// away), new parks are refused with 503 and Retry-After, and calls already parked stay
// until they are retrieved or time out.
func (p *Pool) Drain() {
	if p.draining.Swap(true) {
		return
	}
	p.mu.Lock()
	n := p.node
	ch := p.drained
	p.mu.Unlock()
	if n != nil && n.park != nil {
		n.park.Drain()
	}
	p.log.Info("pool draining")
	go p.watchDrain(ch)
}

// Drained is closed once Drain was called and no call is parked any more (or the pool
// is stopped): the moment a SIGTERMed process may exit without cutting anyone off. A
// Start after that begins a run that is not drained: call Drained again for its channel.
func (p *Pool) Drained() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.drained
}

// shutDrainedLocked closes drained once; p.mu is held.
func (p *Pool) shutDrainedLocked() {
	if !p.drainedShut {
		p.drainedShut = true
		close(p.drained)
	}
}

// watchDrain closes ch once nothing is parked. It gives up when ch is no longer the
// pool's: Stop closed it and a later Start made a new one.
func (p *Pool) watchDrain(ch chan struct{}) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for range t.C {
		p.mu.Lock()
		if p.drained != ch {
			p.mu.Unlock()
			return
		}
		n := p.node
		if n == nil || n.park == nil || len(n.park.Parked()) == 0 {
			p.shutDrainedLocked()
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}

// node is one run of a pool: sockets, sipgo stack, park service.
type node struct {
	pool   *Pool
	log    *slog.Logger
	addr   string
	host   string
	port   int
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	udp    *net.UDPConn
	tcp    net.Listener
	tlsL   net.Listener   // nil without TLS
	order  *inorder.Queue // in-dialog requests, in the order they were read
	// finished answers retransmissions for the UDP server transactions that ended at
	// their final answer (earlyend.go).
	finished finishedTxs
	// rejected are the UDP INVITEs answered non-2xx (or cancelled) lately, whose ACK
	// their transaction takes rather than the stateless relay (stateless.go).
	rejected finishedTxs
	park     *park.Service
	ping     *queueProbe      // the overload gate's read-queue ping; nil without the gate
	elems    []netip.AddrPort // the peer's and park's addresses (trust.go)
	ctx      context.Context
	cancel   context.CancelFunc
	sends    sendGate // closed by stop before the listeners (sendgate.go)
	wg       sync.WaitGroup
	once     sync.Once
}

func (n *node) parkAddr() string {
	if n.park == nil {
		return ""
	}
	return n.park.Addr()
}

func startNode(ctx context.Context, p *Pool, addr string) (n *node, err error) {
	udp, tcp, err := sipnet.ListenBoth(context.Background(), addr)
	if err != nil {
		return nil, fmt.Errorf("pool %s: listen %s: %w", p.cfg.Name, addr, err)
	}
	// One goroutine reads every datagram of the pool: a burst that arrives while it waits
	// for a CPU must queue, not be dropped (the kernel's default, ≈ 200 KB, holds about a
	// hundred SIP messages). The kernel caps it at net.core.rmem_max.
	_ = udp.SetReadBuffer(udpReadBuffer)
	la := udp.LocalAddr().(*net.UDPAddr)
	n = &node{
		pool:  p,
		log:   p.log,
		addr:  la.String(),
		host:  la.IP.String(),
		port:  la.Port,
		udp:   udp,
		tcp:   tcp,
		order: inorder.New(inorder.Options{}),
	}
	n.ctx, n.cancel = context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		if err != nil {
			n.stop()
			n = nil
		}
	}()

	if p.tls != nil {
		tlsAddr := p.tlsAddr
		if tlsAddr == "" {
			tlsAddr = p.cfg.TLS.Listen
		}
		if n.tlsL, err = n.listenTLS(tlsAddr); err != nil {
			return nil, fmt.Errorf("pool %s: listen tls %s: %w", p.cfg.Name, tlsAddr, err)
		}
	}
	uaOpts := []sipgo.UserAgentOption{
		sipgo.WithUserAgent("parkway-" + p.cfg.Name),
		sipgo.WithUserAgentHostname(p.cfg.Domain),
		sipgo.WithUserAgentTransportLayerOptions(
			sip.WithTransportLayerLogger(n.log),
			sip.WithTransportLayerReadFilter(n.readFilter),
		),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(n.log),
			sip.WithTransactionLayerUnhandledResponseHandler(n.onStrayResponse),
		),
	}
	if p.tls != nil {
		uaOpts = append(uaOpts, sipgo.WithUserAgenTLSConfig(p.tls.client))
	}
	n.ua, err = sipgo.NewUA(uaOpts...)
	if err != nil {
		return nil, fmt.Errorf("pool %s: sip stack: %w", p.cfg.Name, err)
	}
	n.srv, err = sipgo.NewServer(n.ua, sipgo.WithServerLogger(n.log))
	if err != nil {
		return nil, fmt.Errorf("pool %s: sip server: %w", p.cfg.Name, err)
	}
	n.client, err = sipgo.NewClient(n.ua, sipgo.WithClientHostname(n.host), sipgo.WithClientPort(n.port), sipgo.WithClientLogger(n.log))
	if err != nil {
		return nil, fmt.Errorf("pool %s: sip client: %w", p.cfg.Name, err)
	}
	n.register()

	if p.addr == "" {
		p.addr = n.addr // the park service's Outbound
	}
	ps, err := p.parkService(n.host)
	if err != nil {
		return nil, fmt.Errorf("pool %s: park service: %w", p.cfg.Name, err)
	}
	if err := ps.Start(n.ctx); err != nil {
		return nil, fmt.Errorf("pool %s: park service: %w", p.cfg.Name, err)
	}
	n.park = ps
	n.elems = n.findElements()
	if p.draining.Load() {
		ps.Drain()
	}

	tcpL := newGuardedListener(tcp, p.opt.MaxTCPConns, p.opt.TCPIdleTimeout, n.log, n.order.Arrived)
	if n.tlsL != nil {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.srv.ServeTLS(n.tlsL)
		}()
	}
	if g := p.overload; g != nil {
		// The read queues of the pool's socket and the park service's; without a ping
		// socket the gate still has the other signals.
		var queues []*queueProbe
		if n.ping, err = newQueueProbe(udp.LocalAddr().(*net.UDPAddr)); err == nil {
			queues = append(queues, n.ping)
		} else {
			n.log.Warn("overload: no read-queue probe", "error", err)
		}
		if pa, perr := net.ResolveUDPAddr("udp", ps.Addr()); perr == nil {
			if q, qerr := newQueueProbe(pa); qerr == nil {
				p.parkPing.Store(q)
				queues = append(queues, q)
			}
		}
		err = nil
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			g.probe(n.ctx, queues...)
		}()
	}
	n.wg.Add(4)
	go func() {
		defer n.wg.Done()
		n.janitor()
	}()
	go func() {
		defer n.wg.Done()
		// The datagrams that queued while the read loop was busy (under load, most of
		// them) come in with one system call instead of one each (sipnet.BatchConn;
		// issue #12). Writes still go out on udp itself.
		n.srv.ServeUDP(sipnet.NewBatchConn(udp, 0))
	}()
	go func() {
		defer n.wg.Done()
		n.srv.ServeTCP(tcpL)
	}()
	// sipgo registers the UDP socket for sending from inside ServeUDP; forwarding with
	// our Via port needs it, so Start returns only once it is there.
	for i := 0; i < 5000; i++ {
		if c, _ := n.ua.TransportLayer().GetConnection("udp", n.addr); c != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	go func() {
		defer n.wg.Done()
		select {
		case <-ctx.Done():
			// The caller's context ending is a stop; Pool.Stop clears p.node.
			go p.stopNode(n)
		case <-n.ctx.Done():
		}
	}()
	return n, nil
}

// stopNode stops n if it is still the pool's current node.
func (p *Pool) stopNode(n *node) {
	p.mu.Lock()
	if p.node == n {
		p.node = nil
	}
	p.mu.Unlock()
	n.stop()
}

func (n *node) stop() error {
	var err error
	n.once.Do(func() {
		if n.cancel != nil {
			n.cancel()
		}
		if n.park != nil {
			err = n.park.Stop()
		}
		n.sends.close()
		n.udp.Close()
		n.tcp.Close()
		if n.tlsL != nil {
			n.tlsL.Close()
		}
		if n.ua != nil {
			n.ua.Close()
		}
		n.wg.Wait()
	})
	return err
}

// janitor drops expired registrations and nonce counts now and then. Reads already
// ignore expired bindings and nonces; this only returns their memory.
func (n *node) janitor() {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if k := n.pool.bindings.Expire(n.pool.opt.Now()); k > 0 {
				n.log.Debug("expired registrations", "count", k)
			}
			n.pool.nonces.expire()
			n.pool.flood.expire(time.Now())
			n.pool.throttle.expire(n.pool.opt.Now())
		case <-n.ctx.Done():
			return
		}
	}
}
