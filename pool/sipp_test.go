package pool

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parkway/parkway/siptest"
)

// SIPp (Debian's sip-tester) drives a real `parkway pool` process with scenarios from
// testdata/sipp: phones nobody here wrote. Without sipp the tests skip, unless CI asks
// for them with PARKWAY_REQUIRE_SIPP=1.
//
//	PARKWAY_REQUIRE_SIPP=1 go test ./pool -run SIPp -v
//	POOL_TEST_SIPP_KEEP=/tmp/sipp-logs ...   # keep SIPp's message logs of a failed run
//
// The scenarios: register.xml (REGISTER with digest), parker.xml (alice calls bob and
// blind-transfers him to sip:park@ or an orbit), parked.xml (bob follows that transfer
// and later the park service's transfer to the retriever), retriever.xml (carol dials
// the orbit), answerer.xml (carol's phone, which takes bob's call) and caller_auth.xml
// (alice calls carol, answering the pool's 407). Every INVITE a
// phone sends through the pool is challenged (407) and sent again with credentials.

func requireSIPp(t testing.TB) string {
	t.Helper()
	return siptest.SIPpPath(t)
}

// poolProcess is a `parkway pool` child process.
type poolProcess struct {
	addr string
	cmd  *exec.Cmd
	out  *bytes.Buffer
}

// startPoolProcess builds the parkway binary into a temp dir and runs one pool from a
// YAML config with MD5 digest (SIPp answers only MD5) on a free port.
//
// Calls are NOT authenticated here (authenticateCalls: false), deliberately: SIPp 3.6
// answers a 407 with a digest uri of the next hop (sip:host:port), not the Request-URI,
// and can be told another uri only once per run (-auth_uri), while these scenarios
// send INVITEs to several URIs per run (bob, park, an orbit, the retriever's contact).
// The pool rightly answers such credentials 400 (RFC 7616 §3.4.6), so the park
// scenarios test parking, not authentication; TestSIPpCallerAuthenticates covers a
// SIPp caller answering the pool's 407. The flood limit is raised far above the
// default: the benchmarks offer thousands of requests a second, all from 127.0.0.1.
func startPoolProcess(t testing.TB, orbits string) *poolProcess {
	t.Helper()
	return startPoolProcessWith(t, orbits, "authenticateCalls: false\n")
}

// startPoolProcessWith is startPoolProcess with settings of its own (YAML lines) and
// extra command-line flags (args).
func startPoolProcessWith(t testing.TB, orbits, settings string, args ...string) *poolProcess {
	t.Helper()
	dir := t.TempDir()
	bin := parkwayBinary(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	cfg := fmt.Sprintf(`name: pool-a
listen: %s
digestAlgorithms: [MD5]
floodLimit: {perSecond: 1000000, burst: 1000000}
%susers:
  - {name: alice, password: alice-demo}
  - {name: bob, password: bob-demo}
  - {name: carol, password: carol-demo}
park:
  orbits: ["%s"]
  pickupTimeout: 90s
`, addr, settings, orbits)
	path := filepath.Join(dir, "pool.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	pp := &poolProcess{addr: addr, out: &bytes.Buffer{}}
	pp.cmd = exec.Command(bin, append([]string{"pool", "--config", path}, args...)...)
	pp.cmd.Stdout, pp.cmd.Stderr = pp.out, pp.out
	if err := pp.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pp.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { pp.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			pp.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("pool output:\n%s", pp.out.String())
		}
	})
	// Ready when OPTIONS is answered.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("udp", addr)
		if err == nil {
			c.Write([]byte(rawRequest(c.LocalAddr(), "UDP", "", "1 OPTIONS", "")))
			c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			buf := make([]byte, 2048)
			n, _ := c.Read(buf)
			c.Close()
			if bytes.HasPrefix(buf[:n], []byte("SIP/2.0 200")) {
				return pp
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool process never answered OPTIONS:\n%s", pp.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sipp is one SIPp run.
type sipp struct {
	*siptest.SIPpRun
}

// injection writes the SIPp injection file: domain; contact host:port; expires; orbit.
func injection(t testing.TB, dir, name string, fields ...string) string {
	return siptest.SIPpInjection(t, dir, name, fields...)
}

// startSIPp runs sipp with scenario against the pool from local port port.
func startSIPp(t testing.TB, bin, name, scenario, target string, port int, args ...string) *sipp {
	t.Helper()
	dir := t.TempDir()
	wd, _ := os.Getwd()
	base := []string{target, "-sf", filepath.Join(wd, "testdata", "sipp", scenario),
		"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "u1", "-nostdin",
		"-timeout", "90s", "-timeout_error", "-trace_err", "-trace_msg", "-max_recv_loops", "1000"}
	// POOL_TEST_SIPP_KEEP=dir keeps every SIPp run's logs of a failed test (registered
	// before the run, so it copies them once SIPp is killed).
	t.Cleanup(func() {
		if keep := os.Getenv("POOL_TEST_SIPP_KEEP"); keep != "" && t.Failed() {
			exec.Command("cp", "-r", dir, keep).Run()
		}
	})
	return &sipp{siptest.StartSIPp(t, bin, name, dir, append(base, args...)...)}
}

// wait waits for the run to finish and fails the test with SIPp's error log if it failed.
func (s *sipp) wait(t testing.TB, ctx context.Context) {
	t.Helper()
	over, err := s.Wait(ctx)
	if !over {
		s.Kill()
		t.Fatalf("sipp %s did not finish", s.Name)
	}
	if err != nil {
		logs, _ := filepath.Glob(filepath.Join(s.Dir, "*errors.log"))
		// SIPp logs every discarded message too; keep the lines that say why it failed.
		var b strings.Builder
		for _, l := range logs {
			data, _ := os.ReadFile(l)
			for _, line := range strings.Split(string(data), "\n") {
				if strings.Contains(line, "Aborting") || strings.Contains(line, "timeout") || strings.Contains(line, "rror") {
					b.WriteString(line + "\n")
				}
				if b.Len() > 8000 {
					break
				}
			}
		}
		// SIPp says on its own output why it could not run at all (exit 254: a socket
		// it could not bind; 255: a fatal error) before any error log exists.
		t.Fatalf("sipp %s failed: %v\n%s%s", s.Name, err, b.String(), lastLines(s.Output(), 20))
	}
}

func TestSIPpParkAndRetrieve(t *testing.T) {
	bin := requireSIPp(t)
	pp := startPoolProcess(t, "7000-7099")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	dir := t.TempDir()
	alicePort, bobPort, carolPhonePort, carolPort := freePort(t), freePort(t), freePort(t), freePort(t)
	contact := func(p int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)) }

	// Each phone registers its Contact (the port its scenario will then serve on).
	for _, r := range []struct {
		user string
		port int
	}{{"alice", alicePort}, {"bob", bobPort}, {"carol", carolPhonePort}} {
		inf := injection(t, dir, "reg-"+r.user, "pool-a", "127.0.0.1:"+strconv.Itoa(r.port), "300")
		startSIPp(t, bin, "register "+r.user, "register.xml", pp.addr, freeAux(t),
			"-inf", inf, "-s", r.user, "-au", r.user, "-ap", r.user+"-demo", "-m", "1").wait(t, ctx)
	}
	poolHost, poolPort, _ := net.SplitHostPort(pp.addr)
	inf := injection(t, dir, "call", "pool-a", contact(carolPhonePort), "300", "7000", poolHost, poolPort, "park")
	bob := startSIPp(t, bin, "bob (parked)", "parked.xml", pp.addr, bobPort, "-inf", inf, "-m", "1")
	carolPhone := startSIPp(t, bin, "carol's phone", "answerer.xml", pp.addr, carolPhonePort, "-inf", inf, "-m", "1")
	time.Sleep(200 * time.Millisecond) // let the UAS processes bind before anyone calls them
	startSIPp(t, bin, "alice (parker)", "parker.xml", pp.addr, alicePort, "-inf", inf, "-m", "1").wait(t, ctx)
	startSIPp(t, bin, "carol (retriever)", "retriever.xml", pp.addr, carolPort, "-inf", inf, "-m", "1").wait(t, ctx)
	bob.wait(t, ctx)
	carolPhone.wait(t, ctx)
}

// TestSIPpCallerAuthenticates: a SIPp phone calls through a pool that authenticates
// calls (the default): it answers the 407 and the call goes through to bob.
func TestSIPpCallerAuthenticates(t *testing.T) {
	bin := requireSIPp(t)
	pp := startPoolProcessWith(t, "7000-7099", "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	alicePort, carolPort := freePort(t), freePort(t)
	inf := injection(t, dir, "reg-carol", "pool-a", "127.0.0.1:"+strconv.Itoa(carolPort), "300")
	startSIPp(t, bin, "register carol", "register.xml", pp.addr, freeAux(t),
		"-inf", inf, "-s", "carol", "-au", "carol", "-ap", "carol-demo", "-m", "1").wait(t, ctx)
	inf = injection(t, dir, "call", "pool-a")
	carol := startSIPp(t, bin, "carol's phone", "answerer.xml", pp.addr, carolPort, "-inf", inf, "-m", "1")
	time.Sleep(200 * time.Millisecond) // let carol's SIPp bind before alice calls
	startSIPp(t, bin, "alice (authenticating caller)", "caller_auth.xml", pp.addr, alicePort, "-inf", inf,
		"-au", "alice", "-ap", "alice-demo", "-auth_uri", "carol@"+pp.addr, "-m", "1").wait(t, ctx)
	carol.wait(t, ctx)
}

// freeAux is a free port for a SIPp run whose Contact does not matter.
func freeAux(t testing.TB) int { return freePort(t) }

// TestPoolProcessSIGTERM: `parkway pool` drains on SIGTERM — health answers 503 — and,
// with nothing parked, exits cleanly on its own.
func TestPoolProcessSIGTERM(t *testing.T) {
	pp := startPoolProcess(t, "7000-7099")
	if err := pp.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- pp.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("pool exited with %v after SIGTERM:\n%s", err, pp.out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("pool did not exit after SIGTERM:\n%s", pp.out.String())
	}
	if !strings.Contains(pp.out.String(), "pool draining") {
		t.Fatalf("pool did not drain before exiting:\n%s", pp.out.String())
	}
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// parkwayBinary builds cmd/parkway once per test run (TestMain removes it), or is
// $PARKWAY_BIN when set (`go tool task unit` sets it to the bin/parkway it has just
// built from the same tree).
func parkwayBinary(t testing.TB) string {
	t.Helper()
	if b := os.Getenv("PARKWAY_BIN"); b != "" {
		return b
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "parkway-pool-test")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(buildDir, "parkway"), "../cmd/parkway").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "parkway")
}

// TestMain removes the built binary and fails the run if goroutines of this package
// outlive the pools that started them (every test stops its pools in Cleanup).
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	if code == 0 {
		if leaked := poolGoroutines(10 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines of package pool still running after all tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// poolGoroutines waits up to wait for goroutines running this package's non-test code
// to end and returns the stacks of those that do not.
func poolGoroutines(wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "parkway/parkway/pool.") && !strings.Contains(g, "pool.TestMain") && !strings.Contains(g, "_test.go") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lastLines is the last n lines of out.
func lastLines(out string, n int) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
