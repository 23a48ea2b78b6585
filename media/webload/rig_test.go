package webload_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parkway/parkway/internal/freeport"
	"github.com/parkway/parkway/siptest"
)

// The rig: two `parkway pool` processes and a `parkway gateway` process, configured
// as a deployment outside demo mode (widget tickets are the only way in), on
// loopback, and SIPp registered as erin at pool-a, answering every call with its RTP
// echo. The load generator signs users u0000… in and calls erin.

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// binary is the path of cmd/NAME built from this tree (parkway: $PARKWAY_BIN when set,
// as `go tool task unit` sets it).
func binary(tb testing.TB, name string) string {
	tb.Helper()
	if name == "parkway" {
		if bin := os.Getenv("PARKWAY_BIN"); bin != "" {
			return bin
		}
	}
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "parkway-webload-"); buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", buildDir+string(os.PathSeparator),
			"github.com/parkway/parkway/cmd/parkway", "github.com/parkway/parkway/cmd/webload").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return filepath.Join(buildDir, name)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// proc is a child process whose output is kept and read line by line.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}

	onLine func(string)
	exit   error // how it exited, once done is closed

	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

func startProc(tb testing.TB, name, dir string, argv ...string) *proc {
	tb.Helper()
	return startProcWatched(tb, name, dir, nil, argv...)
}

// startProcWatched is startProc with onLine called with each line as it is read.
func startProcWatched(tb testing.TB, name, dir string, onLine func(string), argv ...string) *proc {
	tb.Helper()
	p := &proc{name: name, done: make(chan struct{}), changed: make(chan struct{}), onLine: onLine}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Dir = dir
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go func() {
		defer close(p.done)
		p.scan(out)
		p.exit = p.cmd.Wait()
	}()
	tb.Cleanup(func() { p.stop(tb) })
	return p
}

func (p *proc) scan(r io.Reader) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 1<<16), 1<<22)
	for s.Scan() {
		if p.onLine != nil {
			p.onLine(s.Text())
		}
		p.mu.Lock()
		p.lines = append(p.lines, s.Text())
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
}

// waitLine waits for a line matching re (from the start of the output) and returns it.
func (p *proc) waitLine(tb testing.TB, re *regexp.Regexp, within time.Duration) string {
	tb.Helper()
	deadline := time.After(within)
	for i := 0; ; {
		p.mu.Lock()
		for ; i < len(p.lines); i++ {
			if re.MatchString(p.lines[i]) {
				line := p.lines[i]
				p.mu.Unlock()
				return line
			}
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-p.done:
			tb.Fatalf("%s exited before printing %q:\n%s", p.name, re, p.output())
		case <-deadline:
			tb.Fatalf("%s did not print %q within %v:\n%s", p.name, re, within, p.output())
		}
	}
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// stop ends the process with SIGTERM, then SIGKILL after 10 s.
func (p *proc) stop(tb testing.TB) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		tb.Logf("%s did not stop on SIGTERM within 10 s: killed", p.name)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

type rig struct {
	dir      string
	url      string // the gateway, http://127.0.0.1:port
	embedKey string
	gateway  *proc
	pools    []*proc
	sipp     *siptest.SIPpRun
}

const realm = "parkway"

func password(user string) string { return user + "-pw" }

func users(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("u%04d", i)
	}
	return out
}

// echoMode is who echoes the calls' RTP: SIPp itself (-rtp_echo), or a UDP echo in the
// test process that SIPp's answer names instead.
type echoMode int

const (
	echoSIPp echoMode = iota
	echoGo
)

// startRig starts the pools, the gateway (with gatewayArgs added to its command line)
// and SIPp for up to n calls.
func startRig(tb testing.TB, n int, mode echoMode, gatewayArgs ...string) *rig {
	tb.Helper()
	sippBin := siptest.SIPpPath(tb)
	bin := binary(tb, "parkway")
	r := &rig{dir: tb.TempDir()}
	key := make([]byte, 24)
	rand.Read(key)
	r.embedKey = hex.EncodeToString(key)
	session := make([]byte, 32)
	rand.Read(session)
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(r.dir, name), []byte(body), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	write("embed.key", r.embedKey)
	write("session.key", hex.EncodeToString(session))
	var creds strings.Builder
	for _, u := range append(users(n), "erin") {
		fmt.Fprintf(&creds, "%s: %s\n", u, password(u))
	}
	write("users.yaml", creds.String())
	ports := map[string]int{"pool-a": poolPort(tb), "pool-b": poolPort(tb)}
	pool := func(name, peer, orbits, peerOrbits string) string {
		// The flood limit is per source address, and every user's REGISTER comes from
		// the gateway's one address: raised, as a deployment of this size would. SIPp
		// (erin) answers a digest challenge with MD5 alone.
		return fmt.Sprintf(`name: %s
listen: 127.0.0.1:%d
realm: %s
usersFile: users.yaml
floodLimit: {perSecond: 100000, burst: 100000}
digestAlgorithms: [MD5]
peer: {name: %s, addr: 127.0.0.1:%d, orbits: [%q]}
park: {orbits: [%q], musicOnHold: true, musicFile: "builtin:%s"}
`, name, ports[name], realm, peer, ports[peer], peerOrbits, orbits, name)
	}
	write("pool-a.yaml", pool("pool-a", "pool-b", "7000-7099", "8000-8099"))
	write("pool-b.yaml", pool("pool-b", "pool-a", "8000-8099", "7000-7099"))
	write("gateway.yaml", fmt.Sprintf(`http: 127.0.0.1:0
hosts: [localhost]
demo: false
embedKeyFile: embed.key
sessionKeyFile: session.key
maxSessions: %d
maxSessionsPerIP: %d
heartbeat: {interval: 2s, timeout: 30s}
drainTimeout: 5s
# The DR prober's OPTIONS are not what is measured here: on a machine at load 85 the
# defaults (3 misses of 250 ms) declared pool-a down mid-run and calls were refused.
probe: {interval: 1s, timeout: 2s, misses: 5}
pools:
  home:   {name: pool-a, sip: 127.0.0.1:%d, orbits: ["7000-7099"]}
  backup: {name: pool-b, sip: 127.0.0.1:%d, orbits: ["8000-8099"]}
sip:
  listen: 127.0.0.1:0
  credentialsFile: users.yaml
`, n+100, n+100, ports["pool-a"], ports["pool-b"]))
	for _, name := range []string{"pool-a", "pool-b"} {
		p := startProc(tb, name, r.dir, bin, "pool", "--config", filepath.Join(r.dir, name+".yaml"))
		p.waitLine(tb, regexp.MustCompile(`pool `+name+` listening on`), time.Minute)
		r.pools = append(r.pools, p)
	}
	r.gateway = startProc(tb, "gateway", r.dir, append([]string{bin, "gateway", "--config", filepath.Join(r.dir, "gateway.yaml")}, gatewayArgs...)...)
	line := r.gateway.waitLine(tb, gatewayLine, time.Minute)
	r.url = gatewayLine.FindStringSubmatch(line)[1]

	// erin: registered by one SIPp run, answering by another at the contact it gave.
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	scenarios := filepath.Join(wd, "..", "..", "gateway", "testdata", "sipp")
	contact, aux, sippMedia := freeUDP(tb), freeUDP(tb), freeUDP(tb)
	echo, echoArgs := sippMedia, []string{"-rtp_echo"}
	if mode == echoGo {
		echo, echoArgs = startEcho(tb), nil
	}
	sippDir := tb.TempDir()
	reg := siptest.StartSIPp(tb, sippBin, "register erin", sippDir,
		fmt.Sprintf("127.0.0.1:%d", ports["pool-a"]), "-sf", filepath.Join(scenarios, "register.xml"),
		"-inf", siptest.SIPpInjection(tb, sippDir, "reg", "pool-a", fmt.Sprintf("127.0.0.1:%d", contact)),
		"-i", "127.0.0.1", "-p", strconv.Itoa(aux), "-mp", strconv.Itoa(freeUDP(tb)), "-t", "u1", "-nostdin",
		"-s", "erin", "-au", "erin", "-ap", password("erin"), "-m", "1", "-timeout", "30s", "-timeout_error")
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	if over, err := reg.Wait(ctx); !over || err != nil {
		tb.Fatalf("SIPp registering erin (over %v): %v\n%s", over, err, reg.Output())
	}
	args := []string{"-sf", filepath.Join(scenarios, "answer.xml"), "-inf", siptest.SIPpInjection(tb, sippDir, "answer", strconv.Itoa(echo), "101"),
		"-i", "127.0.0.1", "-p", strconv.Itoa(contact), "-t", "u1", "-nostdin", "-max_recv_loops", "1000",
		"-s", "erin", "-m", strconv.Itoa(n + 1), "-l", strconv.Itoa(n + 1), "-timeout", "3600s", "-mp", strconv.Itoa(sippMedia)}
	r.sipp = siptest.StartSIPp(tb, sippBin, "erin answers all", sippDir, append(args, echoArgs...)...)
	waitBound(tb, r.sipp, contact)
	return r
}

// echoBuffer is the Go echo's socket buffers. SIPp's echo socket keeps the kernel's
// default (208 KiB: its -rtp_buffsize does not reach the echo socket), ≈ 20 ms of 200
// calls' probes and 4 ms of 1,000 calls', and one socket echoes every call: on a busy
// machine it overflowed whenever SIPp was not run for that long (2,733 drops in 5 s at
// 200 calls, load 13), which is the harness's loss, not the gateway's. 4 MiB is
// net.core.rmem_max here (≈ 80 ms of 1,000 calls).
const echoBuffer = 4 << 20

// startEcho runs a UDP echo on loopback until the test ends and returns its port: the
// far phone's media for the benchmark, as SIPp's -rtp_echo is, with room to wait.
func startEcho(tb testing.TB) int {
	tb.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	_ = c.SetReadBuffer(echoBuffer)
	_ = c.SetWriteBuffer(echoBuffer)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			_, _ = c.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	tb.Cleanup(func() {
		c.Close()
		<-done
	})
	return c.LocalAddr().(*net.UDPAddr).Port
}

var gatewayLine = regexp.MustCompile(`Parkway gateway on (http://[0-9.:]+) `)

// portPicker hands out the ports of this package's tests: outside the ephemeral range,
// never the same one twice.
var portPicker freeport.Picker

// poolPort is a port for a pool's UDP and TCP listeners, outside the ephemeral range.
func poolPort(tb testing.TB) int {
	tb.Helper()
	port, err := portPicker.Pick()
	if err != nil {
		tb.Fatal(err)
	}
	return port
}

// freeUDP is a UDP port nobody holds now.
func freeUDP(tb testing.TB) int {
	tb.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// waitBound waits until SIPp holds its UDP port.
func waitBound(tb testing.TB, s *siptest.SIPpRun, port int) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if over, err := s.Exited(); over {
			tb.Fatalf("SIPp %s exited before listening: %v\n%s", s.Name, err, s.Output())
		}
		c, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			c.Close()
		} else if errors.Is(err, syscall.EADDRINUSE) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("SIPp %s did not bind 127.0.0.1:%d within 30 s", s.Name, port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
