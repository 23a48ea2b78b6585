package failover

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parkway/parkway/browsertest"
	"github.com/parkway/parkway/gateway/admin"
	"github.com/parkway/parkway/gateway/auth"
	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/internal/freeport"
	"github.com/parkway/parkway/internal/usersfile"
	"github.com/parkway/parkway/signaling"
)

// bin is the parkway binary every test runs: $PARKWAY_BIN when set (`go tool task
// unit` sets it to the bin/parkway its build dependency has just built from the same
// tree, and the pool tests take it too: one link instead of three), else the one
// TestMain builds.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "parkway-failover-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if bin = os.Getenv("PARKWAY_BIN"); bin == "" {
		bin = filepath.Join(dir, "parkway")
		build := exec.Command("go", "build", "-o", bin, "github.com/parkway/parkway/cmd/parkway")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "failover: building cmd/parkway:", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if leaked := leakedGoroutines(); leaked != "" {
			fmt.Fprintf(os.Stderr, "failover: goroutines left behind:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines returns the stacks of softphone goroutines (websocket readers, a
// call's microphone and ear) still running after every test closed its phones, waiting
// a moment for those that are winding down.
func leakedGoroutines() string {
	var bad []string
	for range 100 {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		bad = bad[:0]
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "parkway/browsertest.") {
				bad = append(bad, g)
			}
		}
		if len(bad) == 0 {
			return ""
		}
		time.Sleep(50 * time.Millisecond)
	}
	return strings.Join(bad, "\n\n")
}

// wait is how long any one step may take: generous, because a loaded 2-core machine
// runs three processes and several PeerConnections per test. No test fails because
// something was slow but still happened.
const wait = 15 * time.Second

// step is a context for one step of a test.
func step(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// Tones each user's microphone plays; none is a pool's music on hold (pool-a 440/660 Hz,
// pool-b 1000/1200 Hz, park.BuiltinMusicHz).
var hz = map[string]float64{"alice": 1400, "bob": 1700, "carol": 2000, "dave": 2300, "erin": 2600}

// demoUsers are the users both pools know, with the demo's published passwords.
var demoUsers = []string{"alice", "bob", "carol", "dave"}

// holdout is erin: a user the gateway has a password for but whom only one pool
// knows. While she is signed in, a redirection to the other pool cannot finish, so
// the phase before it (outage, or failover, or failback) lasts until she signs out —
// which lets a test check what that phase allows without racing a redirection that
// otherwise takes milliseconds. It is the real behaviour of a user the backup
// registrar refuses: the controller keeps retrying and keeps everyone in the phase.
const holdout = "erin"

type clusterOptions struct {
	// holdoutAt names the only pool that knows erin ("" : neither, erin unused).
	holdoutAt string
	// pickupB is pool-b's call pickup timeout; zero means 90 s.
	pickupB time.Duration
	// users are extra users both pools know (benchmarks).
	users []string
	// autoFailover and autoFailback are the gateway's autoFailoverAfter and
	// autoFailbackAfter; zero leaves both to the admin.
	autoFailover, autoFailback time.Duration
	// survivable turns survivable park on for both pools (park.survivable in their
	// configs, survivablePark in the gateway's): issue #10, opt-in.
	survivable bool
	// poolAddr, if set, is the SIP address the gateway is given for a pool on port
	// (chaos tests put an impairing relay there); nil: 127.0.0.1:port.
	poolAddr func(pool string, port int) string
	// plainUDP: the gateway reaches the pools over plain UDP, not TLS (a relay that
	// impairs datagrams sits there, or no certificates are made).
	plainUDP bool
	// gatewayYAML is appended to the gateway's config file (top-level keys).
	gatewayYAML string
	// wrapGateway, if set, rewrites the gateway's command line (argv[0] is the binary),
	// e.g. to start it in a mount namespace; the wrapper must exec it in the same process.
	wrapGateway func(argv []string) []string
	// poolArgs are added to each `parkway pool` command line (e.g. --debug).
	poolArgs []string
	// poolYAML is appended to each pool's config file (top-level keys).
	poolYAML string
	// poolHTTP gives each pool an HTTP listener (/metrics, /healthz, /readyz) on a
	// port of its own, kept in ports[name+"-http"].
	poolHTTP bool
	// gateways is how many gateway processes share the DR state (clustered embedded
	// NATS, cells3_test.go); 0 or 1: the lone gateway "gateway".
	gateways int
}

// cluster is two `parkway pool` processes and one `parkway gateway` process (or
// opts.gateways of them, gw1…gwN, sharing the DR state).
type cluster struct {
	t     testing.TB
	dir   string
	opts  clusterOptions
	ports map[string]int // pool name → SIP port (UDP/TCP); name+"-tls" → its TLS port
	procs map[string]*proc
	// held keeps a killed pool's ports from other tests until it starts again (holdPorts).
	held  map[string][]*net.UDPConn
	url   string // the gateway (the first of several), http://127.0.0.1:port
	key   []byte // the gateway's session key, to issue tokens as an identity provider would
	admin *admin.Client
	// gws are the gateways' process names in order, each one's URL in gwURL.
	gws   []string
	gwURL map[string]string
	// admins counts admin actions, which go to the gateways in turn.
	admins int
}

func startCluster(t testing.TB, opts clusterOptions) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), opts: opts, procs: map[string]*proc{}}
	t.Cleanup(func() {
		for name := range c.held {
			c.releasePorts(name)
		}
	})
	c.ports = map[string]int{"pool-a": freePort(t), "pool-b": freePort(t), "pool-a-tls": freePort(t), "pool-b-tls": freePort(t)}
	if opts.poolHTTP {
		c.ports["pool-a-http"], c.ports["pool-b-http"] = freePort(t), freePort(t)
	}
	c.writeConfigs()
	t.Cleanup(c.stop)
	c.startPool("pool-a")
	c.startPool("pool-b")
	if n := gatewaysFor(t, opts); n > 1 {
		c.opts.gateways = n
		c.startGateways(n)
	} else {
		gw := c.start("gateway", "gateway", "--config", filepath.Join(c.dir, "gateway.yaml"))
		line := gw.waitLine(t, gatewayLine)
		c.url = gatewayLine.FindStringSubmatch(line)[1]
		c.gws, c.gwURL = []string{"gateway"}, map[string]string{"gateway": c.url}
	}
	c.admin = &admin.Client{Gateway: c.url}
	c.waitStatus("normal with both pools healthy", func(s dr.Snapshot) bool {
		return s.Phase == signaling.PhaseNormal && healthy(s, "pool-a") && healthy(s, "pool-b")
	})
	return c
}

var gatewayLine = regexp.MustCompile(`Parkway gateway on (http://[0-9.:]+) `)

func healthy(s dr.Snapshot, pool string) bool {
	p, ok := s.Pool(pool)
	return ok && p.Healthy
}

func (c *cluster) writeConfigs() {
	c.key = make([]byte, 32)
	rand.Read(c.key)
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(c.dir, name), []byte(body), 0o600); err != nil {
			c.t.Fatal(err)
		}
	}
	write("session.key", hex.EncodeToString(c.key))
	c.key = []byte(hex.EncodeToString(c.key)) // the gateway uses the file's bytes as the key

	// As a real deployment runs (configs/gateway.yaml, pool-*-tls.yaml): SIP over TLS
	// between the gateway and the pools and between the pools, with certificates from
	// `parkway certs`, and every user's secret stored as an HA1 hash on both sides.
	if out, err := exec.Command(bin, "certs", "-dir", filepath.Join(c.dir, "sip"), "-hosts", "127.0.0.1", "pool-a", "pool-b").CombinedOutput(); err != nil {
		c.t.Fatalf("parkway certs: %v\n%s", err, out)
	}
	users := append(append([]string(nil), demoUsers...), c.opts.users...)
	var creds strings.Builder
	for _, u := range users {
		fmt.Fprintln(&creds, usersfile.Line(u, realm, password(u)))
	}
	fmt.Fprintln(&creds, usersfile.Line(holdout, realm, password(holdout)))
	write("users.yaml", creds.String())

	pool := func(name, peer, orbits, peerOrbits, music string, pickup time.Duration) string {
		var b strings.Builder
		fmt.Fprintf(&b, "name: %s\nlisten: 127.0.0.1:%d\nrealm: %s\nusers:\n", name, c.ports[name], realm)
		for _, u := range users {
			fmt.Fprintf(&b, "  - {name: %s, ha1: %s}\n", u, usersfile.HA1(u, realm, password(u)))
		}
		if c.opts.holdoutAt == name {
			fmt.Fprintf(&b, "  - {name: %s, ha1: %s}\n", holdout, usersfile.HA1(holdout, realm, password(holdout)))
		}
		fmt.Fprintf(&b, "tls: {listen: 127.0.0.1:%d, certFile: sip/%s.crt, keyFile: sip/%s.key, caFile: sip/ca.crt}\n", c.ports[name+"-tls"], name, name)
		fmt.Fprintf(&b, "peer: {name: %s, addr: 127.0.0.1:%d, transport: tls, orbits: [%q]}\n", peer, c.ports[peer+"-tls"], peerOrbits)
		fmt.Fprintf(&b, "park: {orbits: [%q], pickupTimeout: %s, musicOnHold: true, musicFile: %q, maxPickupAttempts: 1, survivable: %v}\n", orbits, pickup, music, c.opts.survivable)
		if c.opts.poolHTTP {
			fmt.Fprintf(&b, "http: 127.0.0.1:%d\n", c.ports[name+"-http"])
		}
		b.WriteString(c.opts.poolYAML)
		return b.String()
	}
	poolAddr := c.opts.poolAddr
	if poolAddr == nil {
		poolAddr = func(_ string, port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
	}
	suffix, transport, caFile := "-tls", "transport: tls, ", "poolCAFile: sip/ca.crt\n"
	if c.opts.plainUDP {
		suffix, transport, caFile = "", "", ""
	}
	pickupB := c.opts.pickupB
	if pickupB == 0 {
		pickupB = 90 * time.Second
	}
	write("pool-a.yaml", pool("pool-a", "pool-b", "7000-7099", "8000-8099", "builtin:pool-a", 90*time.Second))
	write("pool-b.yaml", pool("pool-b", "pool-a", "8000-8099", "7000-7099", "builtin:pool-b", pickupB))
	write("gateway.yaml", fmt.Sprintf(`http: 127.0.0.1:0
demo: true
sessionKeyFile: session.key
maxSessions: 5000
heartbeat: {interval: 2s, timeout: 30s}
autoFailoverAfter: %s
autoFailbackAfter: %s
pools:
  home:   {name: pool-a, sip: %s, %sorbits: ["7000-7099"], survivablePark: %v}
  backup: {name: pool-b, sip: %s, %sorbits: ["8000-8099"], survivablePark: %v}
%ssip:
  listen: 127.0.0.1:0
  credentialsFile: users.yaml
  signOutGrace: 1s
%s`, c.opts.autoFailover, c.opts.autoFailback, poolAddr("pool-a", c.ports["pool-a"+suffix]), transport, c.opts.survivable, poolAddr("pool-b", c.ports["pool-b"+suffix]), transport, c.opts.survivable, caFile, c.opts.gatewayYAML))
}

func password(user string) string { return user + "-pw" }

// realm is both pools' digest realm: one HA1 per user serves the pair.
const realm = "parkway"

// startPool starts (or restarts, on the same port) a pool process and waits until it
// serves.
func (c *cluster) startPool(name string) {
	c.t.Helper()
	c.releasePorts(name)
	p := c.start(name, append([]string{"pool", "--config", filepath.Join(c.dir, name+".yaml")}, c.opts.poolArgs...)...)
	p.waitLine(c.t, regexp.MustCompile(`pool `+name+` listening on`))
}

// kill SIGKILLs a process and waits for it to be gone: a crash, nothing said to peers.
func (c *cluster) kill(name string) time.Time {
	c.t.Helper()
	p := c.procs[name]
	killed := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatalf("kill %s: %v", name, err)
	}
	<-p.done
	c.holdPorts(name)
	return killed
}

// holdPorts keeps a killed pool's ports (SIP, TLS, HTTP) from the other test processes
// until startPool gives them back: it may be down for many seconds, and other packages'
// tests pick free ports from the same range (freeport.Default) meanwhile — a pool once
// failed to restart, "bind: address already in use". Each hold is a UDP socket bound to
// the port and connected elsewhere: freeport sees the port busy (it wants UDP and TCP
// free), while a datagram to the port from anyone else finds no socket and is refused
// (ICMP port unreachable), and a TCP connection is reset, just as with no pool there.
func (c *cluster) holdPorts(name string) {
	for _, key := range []string{name, name + "-tls", name + "-http"} {
		port, ok := c.ports[key]
		if !ok {
			continue
		}
		conn, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9})
		if err != nil {
			// Not held: the restart may still find the port free.
			c.t.Logf("could not hold %s's port %d while it is down: %v", key, port, err)
			continue
		}
		if c.held == nil {
			c.held = map[string][]*net.UDPConn{}
		}
		c.held[name] = append(c.held[name], conn)
	}
}

// releasePorts gives a pool's held ports back for it to bind.
func (c *cluster) releasePorts(name string) {
	for _, conn := range c.held[name] {
		conn.Close()
	}
	delete(c.held, name)
}

// restart starts a killed pool again and waits until the gateway's prober sees it.
func (c *cluster) restart(name string) {
	c.t.Helper()
	c.startPool(name)
	c.waitStatus(name+" healthy", func(s dr.Snapshot) bool { return healthy(s, name) })
}

// waitStatus waits until GET /api/dr of every gateway satisfies ok and returns the
// first gateway's.
func (c *cluster) waitStatus(what string, ok func(dr.Snapshot) bool) dr.Snapshot {
	c.t.Helper()
	ctx := step(c.t)
	var first dr.Snapshot
	for i, url := range c.gatewayURLs() {
		cl := &admin.Client{Gateway: url}
		for {
			last, err := cl.Status(ctx)
			if err == nil && ok(last) {
				if i == 0 {
					first = last
				}
				break
			}
			select {
			case <-ctx.Done():
				c.t.Fatalf("waiting for %s on %s: last status %+v, err %v", what, url, last, err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return first
}

// gatewayURLs are the gateways' URLs in order (c.url alone when a test set only that).
func (c *cluster) gatewayURLs() []string {
	if len(c.gws) < 2 {
		return []string{c.url}
	}
	urls := make([]string, len(c.gws))
	for i, gw := range c.gws {
		urls[i] = c.gwURL[gw]
	}
	return urls
}

// nextAdmin is the gateway the next admin action goes to: the gateways in turn, as
// operators behind a load balancer would reach any of them.
func (c *cluster) nextAdmin() string {
	urls := c.gatewayURLs()
	c.admins++
	return urls[(c.admins-1)%len(urls)]
}

// failover and failback are the admin's `parkway dr failover|failback`.
func (c *cluster) failover() dr.Snapshot {
	c.t.Helper()
	s, err := (&admin.Client{Gateway: c.nextAdmin()}).Failover(step(c.t))
	if err != nil {
		c.t.Fatalf("admin failover: %v", err)
	}
	return s
}

func (c *cluster) failback() dr.Snapshot {
	c.t.Helper()
	s, err := (&admin.Client{Gateway: c.nextAdmin()}).Failback(step(c.t))
	if err != nil {
		c.t.Fatalf("admin failback: %v", err)
	}
	return s
}

// dr runs `parkway dr ACTION --gateway URL`, as an admin at a terminal would, and
// returns what it printed and how it exited.
func (c *cluster) dr(action string) (string, error) {
	c.t.Helper()
	out, err := exec.Command(bin, "dr", action, "--gateway", c.nextAdmin()).CombinedOutput()
	return string(out), err
}

// phone signs user in (demo sign-in for the demo users, a token from the session key
// otherwise) and waits until the gateway can place the user's calls.
func (c *cluster) phone(user string) *browsertest.Phone {
	c.t.Helper()
	p := c.connect(user)
	if err := p.WaitReady(step(c.t)); err != nil {
		c.t.Fatal(err)
	}
	return p
}

// connect signs user in without waiting for the SIP registration.
func (c *cluster) connect(user string) *browsertest.Phone {
	c.t.Helper()
	opts := &browsertest.Options{Hz: hz[user]}
	if opts.Hz == 0 {
		opts.Hz = 440
	}
	if !isDemoUser(user) {
		opts.Token = c.token(user)
	}
	p, err := browsertest.Connect(step(c.t), c.gatewayFor(user), user, opts)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(p.Close)
	return p
}

func isDemoUser(u string) bool {
	for _, d := range demoUsers {
		if d == u {
			return true
		}
	}
	return false
}

// token issues a session token with the gateway's key, as an identity provider that
// shares it would.
func (c *cluster) token(user string) string {
	c.t.Helper()
	s, err := auth.NewSigner(c.key)
	if err != nil {
		c.t.Fatal(err)
	}
	tok, _, err := s.Issue(user, auth.KindSession, time.Hour)
	if err != nil {
		c.t.Fatal(err)
	}
	return tok
}

// stop ends the gateway first (its users sign out while the pools still answer), then
// the pools; on failure it shows the end of each process's log. When the test left a
// pool dead, the gateway is killed instead: its goodbyes to that pool (BYE, un-REGISTER,
// UNSUBSCRIBE) could only wait out its 10 s request timeout, and nothing after the test
// reads them (TestGatewaySIGTERMDrains tests a gateway's own shutdown).
func (c *cluster) stop() {
	poolDead := false
	for _, name := range []string{"pool-a", "pool-b"} {
		if p := c.procs[name]; p != nil && p.exited() {
			poolDead = true
		}
	}
	for _, name := range append(c.gatewayNames(), "pool-a", "pool-b") {
		if p := c.procs[name]; p != nil {
			t0 := time.Now()
			if name != "pool-a" && name != "pool-b" && poolDead {
				p.kill()
				continue
			}
			p.stop()
			if d := time.Since(t0); d > 3*time.Second {
				// The gateway's user agent bounds each goodbye (a BYE to a dead park
				// service) by its 10 s request timeout.
				c.t.Logf("%s took %v to stop", name, d.Round(time.Millisecond))
			}
		}
	}
	if c.t.Failed() {
		for _, name := range append(c.gatewayNames(), "pool-a", "pool-b") {
			if p := c.procs[name]; p != nil {
				c.t.Logf("--- %s log (end) ---\n%s", name, p.tail(60))
			}
		}
	}
}

// proc is one parkway process; its stdout and stderr go to a log in memory.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
	out  *logBuffer
}

func (c *cluster) start(name string, args ...string) *proc {
	c.t.Helper()
	out := &logBuffer{}
	if old := c.procs[name]; old != nil {
		out.Write(old.out.bytes()) // a restarted process keeps its predecessor's log
		fmt.Fprintf(out, "--- %s restarted ---\n", name)
		out.mark()
	}
	argv := append([]string{bin}, args...)
	if name == "gateway" && c.opts.wrapGateway != nil {
		argv = c.opts.wrapGateway(argv)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), out: out}
	go func() {
		defer close(p.done)
		_ = cmd.Wait()
	}()
	c.procs[name] = p
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill SIGKILLs the process, if it still runs, and waits until it is gone.
func (p *proc) kill() {
	if !p.exited() {
		_ = p.cmd.Process.Kill()
	}
	<-p.done
}

// stop interrupts the process (SIGINT: stop at once) and kills it if it lingers.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitLine waits for a line matching re in what the process printed since it started
// and returns it.
func (p *proc) waitLine(t testing.TB, re *regexp.Regexp) string {
	t.Helper()
	return p.waitLineWithin(t, re, wait)
}

// waitLineWithin is waitLine with its own deadline.
func (p *proc) waitLineWithin(t testing.TB, re *regexp.Regexp, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	for {
		if line := p.out.find(re); line != "" {
			return line
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before printing %q:\n%s", p.cmd.Args[1], re, p.tail(40))
		case <-deadline:
			t.Fatalf("%s never printed %q:\n%s", p.cmd.Args[1], re, p.tail(40))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (p *proc) tail(n int) string {
	lines := strings.Split(strings.TrimRight(string(p.out.bytes()), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logBuffer collects a process's output; find looks only at what came after mark.
type logBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	from int
}

func (l *logBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *logBuffer) mark() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.from = l.buf.Len()
}

func (l *logBuffer) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.buf.Bytes())
}

func (l *logBuffer) find(re *regexp.Regexp) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.Split(string(l.buf.Bytes()[l.from:]), "\n") {
		if re.MatchString(line) {
			return line
		}
	}
	return ""
}

// Ports handed out in this process, so two clusters never pick the same one between
// choosing it and binding it.
// portPicker hands out the ports of this package's tests: outside the ephemeral range,
// never the same one twice.
var portPicker freeport.Picker

// freePort finds a loopback port free for both UDP and TCP: a pool binds both, and each
// pool must know the other's port before either starts. A killed pool is started again
// on its port, so the port lies outside the kernel's ephemeral range, where no other
// test's outgoing connection or port-0 socket can take it while the pool is down.
func freePort(t testing.TB) int {
	t.Helper()
	port, err := portPicker.Pick()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// refusal asserts that err is the gateway's refusal with exactly this code and message.
func refusal(t testing.TB, what string, err error, code signaling.ErrorCode, message string) {
	t.Helper()
	var se *signaling.Error
	if !errors.As(err, &se) {
		t.Fatalf("%s: want the gateway's %s error %q, got %v", what, code, message, err)
	}
	if se.Code != code || se.Message != message {
		t.Fatalf("%s: got error {code %q, message %q}, want {code %q, message %q}", what, se.Code, se.Message, code, message)
	}
}
