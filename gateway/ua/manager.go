package ua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/parkway/parkway/sip/sipnet"
)

// Manager is the gateway's SIP side: one sipgo stack and one UDP+TCP listener shared
// by every signed-in user, each user with its own Contact (sip:alice@ip:port).
// Requests are dispatched to users by Request-URI user, and to calls by dialog
// (Call-ID and our tag, RFC 3261 §12).
type Manager struct {
	cfg Config
	log *slog.Logger

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	cli    *sipgo.Client
	tlsCli *sipgo.Client // for pools reached over TLS (Pool.Transport)
	udp    *net.UDPConn
	tcp    net.Listener
	host   string
	port   int

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // serving goroutines and every user's

	chals challenges              // digest challenges per pool, for pre-emptive credentials
	sink  atomic.Pointer[sinkBox] // hears of established dialogs (adopt.go); nil: nobody

	// mu guards active, users, dialogs, watchers and down.
	mu       sync.Mutex
	active   Pool
	users    map[string]*User
	dialogs  map[string]*dialog // by dialogKey
	watchers map[*Watcher]struct{}
	down     map[string]bool // pools the DR controller saw stop answering (PoolDown)
	closed   bool
}

// NewManager binds the listener and starts serving. Close stops it.
func NewManager(cfg Config) (*Manager, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("ua config: %w", err)
	}
	udp, tcp, err := sipnet.ListenBoth(context.Background(), cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("ua: listen %s: %w", cfg.Listen, err)
	}
	la := udp.LocalAddr().(*net.UDPAddr)
	m := &Manager{
		cfg:      cfg,
		log:      cfg.Logger,
		udp:      udp,
		tcp:      tcp,
		host:     la.IP.String(),
		port:     la.Port,
		users:    map[string]*User{},
		dialogs:  map[string]*dialog{},
		watchers: map[*Watcher]struct{}{},
		down:     map[string]bool{},
	}
	for _, p := range cfg.Pools {
		if p.Name == cfg.Active {
			m.active = p
		}
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	fail := func(err error) (*Manager, error) {
		udp.Close()
		tcp.Close()
		if m.ua != nil {
			m.ua.Close()
		}
		return nil, err
	}
	uaOpts := []sipgo.UserAgentOption{
		sipgo.WithUserAgent(cfg.UserAgent),
		sipgo.WithUserAgentHostname(m.host),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(cfg.Logger)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(cfg.Logger)),
	}
	if cfg.TLS != nil {
		uaOpts = append(uaOpts, sipgo.WithUserAgenTLSConfig(cfg.TLS))
	}
	m.ua, err = sipgo.NewUA(uaOpts...)
	if err != nil {
		return fail(fmt.Errorf("ua: sip stack: %w", err))
	}
	m.srv, err = sipgo.NewServer(m.ua, sipgo.WithServerLogger(cfg.Logger))
	if err != nil {
		return fail(fmt.Errorf("ua: sip server: %w", err))
	}
	// Requests leave from the listening socket (connection addr), so that answers
	// and in-dialog requests come back to the port in our Via and Contact.
	m.cli, err = sipgo.NewClient(m.ua, sipgo.WithClientLogger(cfg.Logger),
		sipgo.WithClientHostname(m.host), sipgo.WithClientPort(m.port),
		sipgo.WithClientConnectionAddr(la.String()))
	if err != nil {
		return fail(fmt.Errorf("ua: sip client: %w", err))
	}
	// Requests to a pool over TLS leave on a connection of their own (one per pool,
	// reused), not from our listening port: this client binds nothing, and its Via
	// names the connection's own address (sipgo fills the port in).
	m.tlsCli, err = sipgo.NewClient(m.ua, sipgo.WithClientLogger(cfg.Logger), sipgo.WithClientHostname(m.host))
	if err != nil {
		return fail(fmt.Errorf("ua: sip tls client: %w", err))
	}
	m.routes()
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		_ = m.srv.ServeUDP(udp) // returns when udp closes
	}()
	go func() {
		defer m.wg.Done()
		_ = m.srv.ServeTCP(tcp)
	}()
	// sipgo registers the UDP socket for sending from inside ServeUDP; sending with
	// our connection address needs it, so NewManager returns only once it is there.
	for i := 0; ; i++ {
		if c, _ := m.ua.TransportLayer().GetConnection("udp", la.String()); c != nil {
			break
		}
		if i > 5000 {
			m.Close()
			return nil, errors.New("ua: udp listener never registered")
		}
		time.Sleep(time.Millisecond)
	}
	return m, nil
}

// client is the sipgo client for out-of-dialog requests to p.
func (m *Manager) client(p Pool) *sipgo.Client {
	if p.tls() {
		return m.tlsCli
	}
	return m.cli
}

// Addr is the gateway's SIP listener, host:port.
func (m *Manager) Addr() string { return net.JoinHostPort(m.host, strconv.Itoa(m.port)) }

// Active is the pool users register with now.
func (m *Manager) Active() Pool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.active
}

// Pool returns the configured pool named name.
func (m *Manager) Pool(name string) (Pool, bool) {
	for _, p := range m.cfg.Pools {
		if p.Name == name {
			return p, true
		}
	}
	return Pool{}, false
}

// PoolDown tells the manager that the pool named name stopped answering (down true),
// as the DR controller saw it (its snapshots: a pool that answered probes and stopped),
// or that it answers again (down false). Goodbyes to a pool that is down are not sent —
// the un-REGISTER at sign-out and a park watcher's un-SUBSCRIBE, when it closes or
// leaves the pool: they could only wait out RequestTimeout for a pool that will not
// answer, and what they would remove lapses there by itself (a pool that restarts has
// forgotten it). A pool never reported down counts as up.
func (m *Manager) PoolDown(name string, down bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if down {
		m.down[name] = true
	} else {
		delete(m.down, name)
	}
}

// poolDown reports whether the pool named name was last reported down (PoolDown).
func (m *Manager) poolDown(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.down[name]
}

// User returns the signed-in user name, or nil.
func (m *Manager) User(name string) *User {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.users[name]
}

// Users returns a snapshot of the signed-in users.
func (m *Manager) Users() []*User {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*User, 0, len(m.users))
	for _, u := range m.users {
		out = append(out, u)
	}
	return out
}

// Close signs every user out (ending their calls and un-REGISTERing, bounded by
// ctx-less timeouts) and closes the listener.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	users := make([]*User, 0, len(m.users))
	for _, u := range m.users {
		users = append(users, u)
	}
	watchers := make([]*Watcher, 0, len(m.watchers))
	for w := range m.watchers {
		watchers = append(watchers, w)
	}
	m.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.RequestTimeout)
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, m.cfg.Parallelism)
	for _, w := range watchers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			w.Close()
		}()
	}
	for _, u := range users {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_ = u.SignOut(ctx)
		}()
	}
	wg.Wait()
	m.cancel()
	m.udp.Close()
	m.tcp.Close()
	m.ua.Close()
	m.wg.Wait()
	return nil
}

// dialogKey identifies a dialog from our side: Call-ID and our own tag. Two users of
// this gateway calling each other through a pool share a Call-ID, so the Call-ID alone
// is not enough (RFC 3261 §12: the dialog ID is Call-ID, local tag, remote tag).
func dialogKey(callID, localTag string) string { return callID + "\x00" + localTag }

func (m *Manager) addDialog(d *dialog) {
	m.mu.Lock()
	m.dialogs[dialogKey(d.callID, d.localTag())] = d
	m.mu.Unlock()
}

func (m *Manager) removeDialog(d *dialog) {
	m.mu.Lock()
	k := dialogKey(d.callID, d.localTag())
	if m.dialogs[k] == d {
		delete(m.dialogs, k)
	}
	m.mu.Unlock()
}

// dialogFor finds the dialog an in-dialog request belongs to: its To tag is ours.
func (m *Manager) dialogFor(req *sip.Request) *dialog {
	to := req.To()
	if to == nil || req.CallID() == nil {
		return nil
	}
	tag, _ := to.Params.Get("tag")
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dialogs[dialogKey(req.CallID().Value(), tag)]
}

// dialogByReplaces finds the dialog an RFC 3891 Replaces header names: to-tag is ours.
func (m *Manager) dialogByReplaces(callID, ourTag, theirTag string) *dialog {
	m.mu.Lock()
	d := m.dialogs[dialogKey(callID, ourTag)]
	m.mu.Unlock()
	if d == nil || d.remoteTag() != theirTag {
		return nil
	}
	return d
}
