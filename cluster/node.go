package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config says which NATS a gateway's shared state lives on. The zero value is the
// default: an embedded single-node server, in memory, with no listener.
type Config struct {
	// Name is this gateway's name in the cluster (unique per gateway; it names the
	// embedded node too). Empty: the host name.
	Name string
	// NATS are the URLs of an external NATS cluster to join (nats://host:4222). Set,
	// nothing is embedded; Listen and Routes must be empty.
	NATS []string
	// Listen is host:port where this gateway's embedded node listens for its peers'
	// routes, and Routes the host:port of every node's route listener (its own may be
	// among them). Set, the gateways' embedded nodes form one NATS cluster and the
	// buckets are replicated on up to three of them. The route listener speaks to
	// anyone who reaches it: put it on loopback or a private network only.
	Listen string
	Routes []string
	// DataDir is where the embedded node keeps JetStream's files. Empty: the buckets
	// are in memory (a clustered node still needs a directory for its Raft logs: a
	// temporary one, removed on Close).
	DataDir string
	// Logger receives the node's start and failures; nil means slog.Default().
	Logger *slog.Logger
}

// Mode is how a Config runs NATS, in words for logs and the README.
func (c Config) Mode() string {
	switch {
	case len(c.NATS) > 0:
		return "external"
	case c.Listen != "":
		return "clustered"
	}
	return "embedded"
}

// Validate reports the first thing wrong with c, in words.
func (c Config) Validate() error {
	if len(c.NATS) > 0 && (c.Listen != "" || len(c.Routes) > 0) {
		return errors.New("cluster: nats (an external NATS) and listen/routes (embedded clustered nodes) exclude each other")
	}
	if c.Listen == "" && len(c.Routes) > 0 {
		return errors.New("cluster: routes needs listen (this gateway's own route address)")
	}
	if c.Listen != "" {
		if _, _, err := splitPort(c.Listen); err != nil {
			return fmt.Errorf("cluster: listen %q: %w", c.Listen, err)
		}
	}
	for _, r := range c.Routes {
		if _, _, err := splitPort(r); err != nil {
			return fmt.Errorf("cluster: route %q: %w", r, err)
		}
	}
	for _, u := range c.NATS {
		if p, err := url.Parse(u); err != nil || p.Host == "" {
			return fmt.Errorf("cluster: nats URL %q is not nats://host:port", u)
		}
	}
	if c.Name != "" && strings.ContainsAny(c.Name, " .*>\t") {
		return fmt.Errorf("cluster: name %q may not contain spaces, '.', '*' or '>'", c.Name)
	}
	return nil
}

func splitPort(hostport string) (string, int, error) {
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not 1-65535", p)
	}
	return host, port, nil
}

// Node is a gateway's connection to the cluster's NATS, and the embedded server when
// there is one.
type Node struct {
	name     string
	log      *slog.Logger
	srv      *server.Server // nil with an external NATS
	nc       *nats.Conn
	js       jetstream.JetStream
	replicas int
	storage  jetstream.StorageType
	scratch  *scratch // the embedded server's temporary directory, removed on Close
}

// Start starts (or joins) the NATS of cfg and connects to it. With clustered nodes it
// returns once this node is up; the buckets wait for the cluster's quorum (Bucket).
func Start(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{name: cfg.Name, log: cfg.Logger, replicas: 1, storage: jetstream.FileStorage}
	if n.log == nil {
		n.log = slog.Default()
	}
	n.log = n.log.With("component", "cluster")
	if n.name == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("cluster: no name configured and no host name: %w", err)
		}
		n.name = strings.ReplaceAll(h, ".", "-")
	}
	if len(cfg.NATS) > 0 {
		nc, err := nats.Connect(strings.Join(cfg.NATS, ","), nats.Name("parkway-gateway "+n.name),
			nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
		if err != nil {
			return nil, fmt.Errorf("cluster: connecting to %s: %w", strings.Join(cfg.NATS, ", "), err)
		}
		n.nc, n.replicas = nc, min(3, len(nc.Servers()))
		return n.withJetStream()
	}
	if err := n.embed(cfg); err != nil {
		n.Close()
		return nil, err
	}
	return n.withJetStream()
}

// embed starts the embedded nats-server: no client listener (the gateway connects in
// process), and a route listener only in clustered mode.
func (n *Node) embed(cfg Config) error {
	dir := cfg.DataDir
	if dir == "" {
		n.storage = jetstream.MemoryStorage
		// JetStream wants a directory even when every stream is in memory (and a
		// clustered node keeps its Raft logs there).
		tmp, err := newScratch()
		if err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		n.scratch, dir = tmp, tmp.dir
	}
	opts := &server.Options{
		ServerName: n.name,
		JetStream:  true,
		StoreDir:   dir,
		DontListen: true,
		NoSigs:     true,
		NoLog:      true,
		// Secure by default: no client port (in-process connection), no monitoring port.
		// The gateway connects in process either way.
		Host: "127.0.0.1",
	}
	if cfg.Listen != "" {
		host, port, _ := splitPort(cfg.Listen)
		opts.Cluster = server.ClusterOpts{Name: "parkway", Host: host, Port: port}
		peers := map[string]bool{cfg.Listen: true}
		for _, r := range cfg.Routes {
			peers[r] = true
			opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats-route", Host: r})
		}
		n.replicas = min(3, len(peers))
		// nats-server starts routing only after its client listener (none with
		// DontListen), so a clustered node has one, on a random port of loopback.
		opts.DontListen, opts.Port = false, server.RANDOM_PORT
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("cluster: embedded NATS: %w", err)
	}
	// NoLog keeps nats-server quiet, but a listener it cannot open (a route port in
	// use) would then fail only as "did not start": its errors are kept to say why.
	failures := &natsFailures{}
	srv.SetLoggerV2(failures, false, false, false)
	go srv.Start()
	// Ready within 10 s, or failed for good (a fatal error: no use waiting on).
	for deadline := time.Now().Add(10 * time.Second); !srv.ReadyForConnections(100 * time.Millisecond); {
		if why, fatal := failures.last(); fatal || time.Now().After(deadline) {
			srv.Shutdown()
			if why != "" {
				return fmt.Errorf("cluster: embedded NATS did not start: %s", why)
			}
			return errors.New("cluster: embedded NATS did not start within 10s")
		}
	}
	n.srv = srv
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name("parkway-gateway "+n.name), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("cluster: connecting to the embedded NATS: %w", err)
	}
	n.nc = nc
	n.log.Info("cluster: embedded NATS started", "name", n.name, "mode", cfg.Mode(), "routes", cfg.Routes, "dataDir", cfg.DataDir)
	return nil
}

func (n *Node) withJetStream() (*Node, error) {
	js, err := jetstream.New(n.nc)
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("cluster: JetStream: %w", err)
	}
	n.js = js
	return n, nil
}

// Name is this gateway's name in the cluster.
func (n *Node) Name() string { return n.name }

// Bucket opens the key-value bucket name, creating it if needed, with ttl as its keys'
// lifetime (0: forever). In a cluster forming, it retries until ctx ends: JetStream
// cannot create a replicated bucket before the nodes have elected a meta leader.
func (n *Node) Bucket(ctx context.Context, name string, ttl time.Duration) (jetstream.KeyValue, error) {
	cfg := jetstream.KeyValueConfig{Bucket: name, TTL: ttl, Replicas: n.replicas, Storage: n.storage, History: 1}
	for {
		// Each attempt has its own deadline: before the cluster has a meta leader,
		// JetStream's API requests go unanswered rather than fail.
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		kv, err := n.js.CreateOrUpdateKeyValue(actx, cfg)
		cancel()
		if err == nil {
			return kv, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster: bucket %s: %w (last: %v)", name, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Close disconnects and stops the embedded server, if any.
func (n *Node) Close() {
	if n.nc != nil {
		n.nc.Close()
	}
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
	if n.scratch != nil {
		n.scratch.remove()
	}
}

// leadsStreams reports whether this node's embedded server leads the Raft group of
// the stream (or, with stream "", JetStream's meta group). Always false with an
// external NATS: there is nothing of ours to move.
func (n *Node) leadsStream(ctx context.Context, stream string) bool {
	if n.srv == nil || n.replicas < 2 {
		return false
	}
	if stream == "" {
		return n.srv.JetStreamIsLeader()
	}
	s, err := n.js.Stream(ctx, stream)
	if err != nil {
		return false
	}
	info := s.CachedInfo()
	return info != nil && info.Cluster != nil && info.Cluster.Leader == n.name
}

// stepDown asks JetStream to move the leadership of stream (or of the meta group,
// with "") to another node.
func (n *Node) stepDown(ctx context.Context, stream string) error {
	subject := "$JS.API.META.LEADER.STEPDOWN"
	if stream != "" {
		subject = "$JS.API.STREAM.LEADER.STEPDOWN." + stream
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := n.nc.RequestWithContext(ctx, subject, nil)
	return err
}

// Attach returns another gateway's connection to this node's embedded server, named
// name: several gateways in one process (`parkway demo --gateways 3`) on one NATS.
// Closing it closes only the connection.
func (n *Node) Attach(name string) (*Node, error) {
	if n.srv == nil {
		return nil, errors.New("cluster: Attach needs an embedded server")
	}
	nc, err := nats.Connect("", nats.InProcessServer(n.srv), nats.Name("parkway-gateway "+name), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("cluster: connecting to the embedded NATS: %w", err)
	}
	a := &Node{name: name, log: n.log, nc: nc, replicas: n.replicas, storage: n.storage}
	return a.withJetStream()
}

// natsFailures is the embedded nats-server's logger: it keeps the last error or fatal
// message, for the error a node that does not start returns, and drops the rest.
type natsFailures struct {
	mu    sync.Mutex
	msg   string
	fatal bool
}

func (f *natsFailures) keep(fatal bool, format string, v ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, v...)
	f.fatal = f.fatal || fatal
	f.mu.Unlock()
}

// last is the last error kept, and whether any was fatal.
func (f *natsFailures) last() (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg, f.fatal
}

func (f *natsFailures) Errorf(format string, v ...any) { f.keep(false, format, v...) }
func (f *natsFailures) Fatalf(format string, v ...any) { f.keep(true, format, v...) }
func (*natsFailures) Noticef(string, ...any)           {}
func (*natsFailures) Warnf(string, ...any)             {}
func (*natsFailures) Debugf(string, ...any)            {}
func (*natsFailures) Tracef(string, ...any)            {}
