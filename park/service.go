package park

import (
	"context"
	"errors"
	"fmt"
	"github.com/parkway/parkway/metrics"
	"io"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/sip/inorder"
	"github.com/parkway/parkway/sip/sipnet"
)

// Options are the service's runtime settings, as opposed to the pool's Call
// Park Config. The zero value is usable.
type Options struct {
	// Listen is the UDP and TCP host:port of the service's SIP listener;
	// default "127.0.0.1:0" (a free port, kept across Stop/Start).
	Listen string
	// Domain is the SIP domain of the pool: used in sip:park@Domain and in
	// the From of ring-backs. Default: the listen host.
	Domain string
	// Name identifies the service in diagnostics (ms-diagnostics source,
	// Warning agent); default "park".
	Name string
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
	// Metrics counts park events and refusals; nil: none.
	Metrics *metrics.Pool
	// MediaIP is the address RTP sockets bind to and SDP announces; default
	// the listen host.
	MediaIP string
	// Outbound is where out-of-dialog requests to users go (ring-backs,
	// MESSAGE to the parker, the on-timeout URI): the pool's proxy. Empty
	// sends them to the Request-URI's host, which suits tests without a pool.
	Outbound string
	// RingTimeout is how long one ring-back (or the on-timeout call) rings
	// before it counts as unanswered; default 20 s.
	RingTimeout time.Duration
	// TransferTimeout bounds the wait for the parked party to complete the
	// REFER that connects it to its retriever; default 10 s.
	TransferTimeout time.Duration
	// MaxSubscriptions caps live SUBSCRIBE dialogs (each costs a goroutine);
	// beyond it SUBSCRIBE gets 503 with Retry-After. Default 1024.
	MaxSubscriptions int
	// MaxTCPConns caps concurrent TCP connections to the listener; extra
	// ones are closed on accept. Default 256.
	MaxTCPConns int
	// Orbits, when set, allocates orbits instead of a fresh in-memory store
	// per Start (see OrbitStore). Claims survive Stop only if the store
	// keeps them.
	Orbits OrbitStore
	// ReadProbe, when set, sees the source of every UDP datagram first, on the
	// goroutine that reads the socket; a datagram it returns true for is dropped. The
	// pool's overload gate measures how long datagrams wait to be read this way.
	ReadProbe func(from net.Addr) bool
	// TestPickupTimeout, when set, replaces Config.PickupTimeout without its
	// 10 s minimum. For tests only: production configs go through Validate.
	TestPickupTimeout time.Duration
}

func (o Options) withDefaults() (Options, error) {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return o, fmt.Errorf("park options: listen %q: %w", o.Listen, err)
	}
	if o.Domain == "" {
		o.Domain = host
	}
	if o.Name == "" {
		o.Name = "park"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.MediaIP == "" {
		o.MediaIP = host
	}
	if ip := net.ParseIP(o.MediaIP); ip == nil || ip.IsUnspecified() {
		// SDP and Contact announce these addresses to peers: a wildcard
		// would tell them nothing.
		return o, fmt.Errorf("park options: media IP %q must be a specific IP address", o.MediaIP)
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		return o, fmt.Errorf("park options: listen %q must name a specific IP address (it is our Contact)", o.Listen)
	}
	if o.RingTimeout <= 0 {
		o.RingTimeout = 20 * time.Second
	}
	if o.TransferTimeout <= 0 {
		o.TransferTimeout = 10 * time.Second
	}
	if o.MaxSubscriptions <= 0 {
		o.MaxSubscriptions = 1024
	}
	if o.MaxTCPConns <= 0 {
		o.MaxTCPConns = 256
	}
	return o, nil
}

// Service is one pool's Call Park application: a SIP user agent of its own
// that parks calls on orbits, plays them music on hold, hands them to their
// retriever and rings back the parker on timeout.
//
// Concurrency: mu guards the running state (run) and everything in it —
// orbit table, dialogs, subscriptions and each parked call's fields. Each
// parked call has one goroutine running its select loop (parked.go); each
// subscription one goroutine sending its NOTIFYs. All of them belong to the
// run's WaitGroup, which Stop waits for.
type Service struct {
	cfg   Config
	opt   Options
	log   *slog.Logger
	music []byte // µ-law; nil plays silence
	hub   hub

	draining    atomic.Bool
	openStreams atomic.Int64 // RTP streams open, for tests that check media is gone

	// testBeforeTurn, set by tests before Start, runs as a request reaches its handler
	// and before it waits for its turn: it stands for sipgo's scheduler delaying one
	// goroutine, so tests can make requests of one dialog overtake each other.
	testBeforeTurn func(*sip.Request)

	mu   sync.Mutex
	run  *run
	addr string // bound host:port, reused by a later Start
}

// run is the state of one Start..Stop period.
type run struct {
	s      *Service
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	cli    *sipgo.Client
	dua    *sipgo.DialogUA
	udp    net.PacketConn
	tcp    net.Listener
	laddr  sip.Addr

	orbits OrbitStore
	order  *inorder.Queue           // in-dialog requests, in the order they were read
	calls  map[string]*parkedCall   // by orbit
	legs   map[string]*leg          // by Call-ID: every INVITE dialog we are in
	subs   map[string]*subscription // by Call-ID
	last   *parkwire.Event          // the latest event, for x-parkway-park bodies
}

// New checks cfg and prepares a service; Start makes it listen.
func New(cfg Config, opt Options) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, opt: opt, log: opt.Logger.With("component", "park", "pool", opt.Name)}
	if !cfg.DisableMusicOnHold {
		if s.music, err = loadMusic(cfg.MusicFile); err != nil {
			return nil, &FieldError{"musicFile", cfg.MusicFile, err.Error()}
		}
	}
	return s, nil
}

func (s *Service) pickupTimeout() time.Duration {
	if s.opt.TestPickupTimeout > 0 {
		return s.opt.TestPickupTimeout
	}
	return s.cfg.PickupTimeout
}

// Config returns the effective settings (defaults filled in).
func (s *Service) Config() Config {
	c := s.cfg
	c.Orbits = append([]parkwire.Range(nil), c.Orbits...)
	return c
}

// Start opens the SIP listener (UDP and TCP on one port) and serves until
// Stop. It is listening when it returns. After Stop it may be called again
// and binds the same address.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != nil {
		return errors.New("park: already started")
	}
	listen := s.opt.Listen
	if s.addr != "" {
		listen = s.addr
	}
	udp, tcp, err := sipnet.ListenBoth(ctx, listen)
	if err != nil {
		return fmt.Errorf("park: listen %s: %w", listen, err)
	}
	// One goroutine reads every datagram: a burst that arrives while it waits for a CPU
	// must queue, not be dropped (the kernel caps this at net.core.rmem_max).
	_ = udp.SetReadBuffer(1 << 20)
	order := inorder.New(inorder.Options{})
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(s.opt.Name),
		sipgo.WithUserAgentHostname(s.opt.Domain),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(s.log),
			sip.WithTransportLayerReadFilter(arrivalFilter(order, s.opt.ReadProbe))),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(s.log)))
	if err != nil {
		udp.Close()
		tcp.Close()
		return fmt.Errorf("park: user agent: %w", err)
	}
	uaddr := udp.LocalAddr().(*net.UDPAddr)
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(s.log))
	if err == nil {
		var cli *sipgo.Client
		cli, err = sipgo.NewClient(ua, sipgo.WithClientLogger(s.log),
			sipgo.WithClientHostname(uaddr.IP.String()), sipgo.WithClientPort(uaddr.Port))
		if err == nil {
			rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			orbits := s.opt.Orbits
			if orbits == nil {
				orbits = NewMemoryOrbits()
			}
			r := &run{s: s, ctx: rctx, orbits: orbits, order: order, cancel: cancel, ua: ua, srv: srv, cli: cli, udp: udp, tcp: tcp,
				laddr: sip.Addr{IP: uaddr.IP, Port: uaddr.Port, Hostname: uaddr.IP.String()},
				calls: map[string]*parkedCall{}, legs: map[string]*leg{}, subs: map[string]*subscription{}}
			r.dua = &sipgo.DialogUA{Client: cli, ContactHDR: r.contact()}
			r.routes()
			r.wg.Add(2)
			// Datagrams that queued while the loop was busy come in with one system
			// call (sipnet.BatchConn; issue #12).
			go func() { defer r.wg.Done(); _ = srv.ServeUDP(sipnet.NewBatchConn(udp, 0)) }()
			go func() { defer r.wg.Done(); _ = srv.ServeTCP(limitListener(tcp, s.opt.MaxTCPConns)) }()
			if err = r.waitListening(); err == nil {
				s.run = r
				s.addr = udp.LocalAddr().String()
				s.log.Info("call park listening", "addr", s.addr, "orbits", s.cfg.Orbits)
				return nil
			}
			r.shutdown()
			return err
		}
	}
	udp.Close()
	tcp.Close()
	ua.Close()
	return fmt.Errorf("park: sip stack: %w", err)
}

// waitListening returns once sipgo has registered the UDP listener, so our
// requests leave from it (our Contact) rather than from a fresh socket.
func (r *run) waitListening() error {
	for i := 0; i < 2000; i++ {
		if c, _ := r.srv.TransportLayer().GetConnection("udp", r.udp.LocalAddr().String()); c != nil {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return errors.New("park: udp listener never registered")
}

// Addr is the host:port the service listens on (UDP and TCP).
func (s *Service) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// ParkURI is the park access URI, sip:park@Domain.
func (s *Service) ParkURI() string { return "sip:" + parkwire.ParkUser + "@" + s.opt.Domain }

// Stop ends the service abruptly, as a crash would: listeners and media
// close, parked calls vanish without BYE, subscriptions without NOTIFY.
// Peers find out through their own timers — the pool-failure scenario of
// ARCHITECTURE.md §2 depends on exactly this. Start may be called again.
func (s *Service) Stop() error {
	s.mu.Lock()
	r := s.run
	s.run = nil
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	r.shutdown()
	s.draining.Store(false)
	return nil
}

func (r *run) shutdown() {
	r.cancel()
	r.s.mu.Lock()
	legs := make([]*leg, 0, len(r.legs))
	for _, l := range r.legs {
		legs = append(legs, l)
	}
	r.s.mu.Unlock()
	for _, l := range legs {
		l.end()
	}
	r.udp.Close()
	r.tcp.Close()
	r.ua.Close()
	r.wg.Wait()
	// A goroutine of the run that sent after the listener closed (the parker's
	// "Parked at" MESSAGE, say) made sipgo bind a socket of its own to our address to
	// send from; its goroutines are done now, so closing the transports again closes
	// that socket — left open, it kept the port, and Start on it failed.
	_ = r.ua.TransportLayer().Close()
}

// Drain refuses new parks with 503 and Retry-After (ErrDraining) while
// parked calls stay retrievable and time out as usual. It is undone by
// Stop.
func (s *Service) Drain() { s.draining.Store(true) }

// Draining reports whether Drain was called since the last Start.
func (s *Service) Draining() bool { return s.draining.Load() }

// Owns reports whether user is an orbit number in this service's ranges.
func (s *Service) Owns(user string) bool {
	for _, r := range s.cfg.Orbits {
		if r.Contains(user) {
			return true
		}
	}
	return false
}

// Vacant reports whether orbit is one of the service's own with no call at it, parked
// or being parked, and then the headers of the 404 "Orbit not found" a retrieve of it
// gets (ErrOrbitNotFound), counting that refusal as the service's own. The pool answers
// such a retrieve itself, statelessly, instead of relaying it here through two
// transactions (issue #12: a pool shedding new calls still gets, two seconds later, a
// retrieve for each call it refused, and relaying them was most of its traffic). A call
// that parks after the answer is found by the next retrieve, as when the service answers.
func (s *Service) Vacant(orbit string) ([]sip.Header, bool) {
	if !s.Owns(orbit) {
		return nil, false
	}
	s.mu.Lock()
	r := s.run
	taken := r == nil || r.calls[orbit] != nil
	s.mu.Unlock()
	if taken {
		return nil, false // not running (the relay answers), or someone is there
	}
	s.opt.Metrics.ParkRefused(ErrOrbitNotFound.Status)
	return ErrOrbitNotFound.withOrbit(orbit).headers(s.opt.Name), true
}

// Parked returns a snapshot of the parked calls, ordered by orbit.
func (s *Service) Parked() []parkwire.ParkedCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run == nil {
		return nil
	}
	out := make([]parkwire.ParkedCall, 0, len(s.run.calls))
	for _, pc := range s.run.calls {
		if pc.info.State != "" {
			out = append(out, pc.info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Orbit < out[j].Orbit })
	return out
}

// Events delivers every change of a parked call until cancel is called.
func (s *Service) Events() (<-chan parkwire.Event, func()) { return s.hub.subscribe() }

func (r *run) contact() sip.ContactHeader {
	return sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: parkwire.ParkUser, Host: r.laddr.IP.String(), Port: r.laddr.Port}}
}

// stamp makes a UDP request leave from our listener, so responses and the
// peer's view of us match our Contact.
func (r *run) stamp(req *sip.Request) {
	if req.Transport() == "" || sip.NetworkToLower(req.Transport()) == "udp" {
		req.Laddr = r.laddr
	}
}

// outbound routes an out-of-dialog request through the pool's proxy.
func (r *run) outbound(req *sip.Request) {
	if r.s.opt.Outbound != "" {
		req.SetDestination(r.s.opt.Outbound)
	}
	r.stamp(req)
}

func (r *run) respondErr(req *sip.Request, tx sip.ServerTransaction, e *Error) {
	r.s.opt.Metrics.ParkRefused(e.Status)
	res := sip.NewResponseFromRequest(req, e.Status, e.Text, nil)
	for _, h := range e.headers(r.s.opt.Name) {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

func respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

func headerValue(m interface{ GetHeader(string) sip.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

func itoa(i int) string { return strconv.Itoa(i) }
