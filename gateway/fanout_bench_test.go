package gateway

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parkway/parkway/gateway/auth"
	"github.com/parkway/parkway/signaling"
)

// BenchmarkFanout measures a phase change's fan-out: from the DR controller's call to
// the moment the last of N connected websocket clients has read the new state.
//
// The clients are real websocket clients over loopback, run by a child process (this
// test binary again, see runSwarm): each loopback client costs two file descriptors,
// and with the gateway and the clients in separate processes 10,000 clients fit under
// a 20,000 descriptor limit that an unprivileged container cannot raise. The child
// holds every client socket in one epoll set read by one goroutine, so the clients'
// share of the CPU is a read per message and a substring scan; it reports "done" on a
// pipe when its last client has the new state (the pipe adds microseconds). Clients
// and gateway share the machine's CPUs, so each round the swarm holds its reader until
// the controller's call has returned — the hub's publish returns when its fan-out has
// written every session (or handed it to the session's writer) — and reads then: the
// clients' reading, which clients on their own machines do on their own CPUs, no
// longer takes the gateway's cores in the middle of the fan-out.
// PARKWAY_FANOUT_HOLD=0 lets the swarm read as the states come instead (what the
// numbers of stop 21 and before measured). The gateway's own CPU and allocation
// profiles are this process's: -cpuprofile and -memprofile (under -outputdir) never
// include the clients.
//
// Heartbeats are off during the measurement; PARKWAY_FANOUT_HEARTBEAT=1 runs the
// gateway with its default ping interval and peer timeout instead, the swarm answering
// every ping with a pong. Either way the benchmark fails if a client was dropped.
//
// Two moments count as "the client has it", reported side by side:
//
//   - read (p50-ms, p99-ms, max-ms): the swarm's reader has read the state from the
//     last client's socket and said so on its pipe — what a client sees, including
//     the queue of sockets ready before it in front of the one reader;
//   - arrived (arrived-p50-ms, arrived-p99-ms): the state reached the last client's
//     socket, by the kernel's receive timestamp (SO_TIMESTAMPNS; see runSwarm) — when
//     the gateway's fan-out has put it there, without the reader's queue. On loopback
//     the receive path runs inside the gateway's send, so every microsecond of the
//     gateway's work is in it (and the clients' TCP receive processing too, which on a
//     real network the clients' machines do); arrived-client-p50-ms is the median
//     client's arrival (over every client of every round), which the order of the
//     writes decides. A gateway that is slower to write shows here one for one: run
//     with -cpu 1 to see the fan-out on one core.
//
// Beside the latencies it reports the CPU time each side spends per phase change
// (getrusage): gw-cpu-ms is this process's (the gateway's, plus an idle test harness),
// swarm-cpu-ms the client process's. On a shared machine they move far less than the
// latencies, and their sum over the cores available bounds the latency from below.
//
// Each b.N iteration is one phase change; p50/p99 are over the iterations, so run with
// e.g. -benchtime=50x for a meaningful p99:
//
//	go test -run '^$' -bench Fanout -benchtime 50x ./gateway/
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			f := fanoutFixtureFor(b, n)
			lat := make([]time.Duration, 0, b.N)
			var arrived, median []time.Duration
			var gwCPU, swarmCPU time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r, err := f.round()
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, r.read)
				arrived = append(arrived, r.arrivedLast)
				median = append(median, r.arrivedMedian)
				gwCPU += r.cpu.gateway
				swarmCPU += r.cpu.swarm
			}
			b.StopTimer()
			if got := f.g.Sessions(); got != n {
				b.Fatalf("%d of %d sessions left after the rounds: the gateway dropped clients (with heartbeats on, pongs that came too late)", got, n)
			}
			slices.Sort(lat)
			slices.Sort(arrived)
			slices.Sort(median)
			b.ReportMetric(ms(percentile(lat, 50)), "p50-ms")
			b.ReportMetric(ms(percentile(lat, 99)), "p99-ms")
			b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
			b.ReportMetric(ms(percentile(arrived, 50)), "arrived-p50-ms")
			b.ReportMetric(ms(percentile(arrived, 99)), "arrived-p99-ms")
			b.ReportMetric(ms(percentile(median, 50)), "arrived-client-p50-ms")
			b.ReportMetric(f.perClient/1024, "KiB/client")
			b.ReportMetric(ms(gwCPU)/float64(b.N), "gw-cpu-ms")
			b.ReportMetric(ms(swarmCPU)/float64(b.N), "swarm-cpu-ms")
		})
	}
}

// memInUse is the gateway process's live heap and goroutine stacks after a GC.
func memInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// roundCPU is the CPU time each process spent on one round.
type roundCPU struct{ gateway, swarm time.Duration }

// roundResult is one phase change as measured (see BenchmarkFanout): read is until the
// swarm said its last client had read the state; arrivedLast and arrivedMedian until
// the state reached the last, and the median, client's socket (kernel timestamps).
type roundResult struct {
	read, arrivedLast, arrivedMedian time.Duration
	cpu                              roundCPU
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return sorted[i]
}

// fanoutFixture is a gateway in this process and a swarm of n clients in a child. The
// testing package calls a benchmark function more than once (b.N = 1 first); connecting
// 10,000 clients each time would mostly measure TIME_WAIT, so the fixture is kept and
// closed by TestMain (closeFanoutFixture).
type fanoutFixture struct {
	n       int
	g       *testGateway
	cleanup []func()
	child   *exec.Cmd
	stdin   io.WriteCloser
	stdout  *bufio.Reader
	phase   int // index into signaling.Phases of the current phase
	// swarmCPU is the client process's CPU time as of its last "done".
	swarmCPU time.Duration
	// perClient is the gateway's heap and stack growth per connected client, in bytes.
	perClient float64
}

var fixture struct {
	mu sync.Mutex
	f  *fanoutFixture
}

func fanoutFixtureFor(b *testing.B, n int) *fanoutFixture {
	fixture.mu.Lock()
	defer fixture.mu.Unlock()
	if fixture.f != nil && fixture.f.n == n {
		return fixture.f
	}
	if fixture.f != nil {
		fixture.f.close()
		fixture.f = nil
	}
	if err := raiseNoFile(uint64(n + 512)); err != nil {
		b.Skipf("cannot hold %d sockets: %v", n, err)
	}
	f := &fanoutFixture{n: n}
	fb := &fixtureTB{TB: b}
	f.g = startGateway(fb, func(c *Config) {
		// No heartbeats during the measurement unless PARKWAY_FANOUT_HEARTBEAT=1 asks
		// for the defaults' (a ping every 2 s per client, which the swarm answers), and
		// room for a slow start under load.
		if os.Getenv("PARKWAY_FANOUT_HEARTBEAT") != "1" {
			c.PingInterval = 10 * time.Minute
			c.PeerTimeout = 20 * time.Minute
		}
		c.AuthTimeout = 2 * time.Minute
		// Every client of the swarm comes from 127.0.0.1.
		c.MaxSessionsPerIP = n
	})
	f.cleanup = fb.cleanups
	before := memInUse()
	token, _, err := f.g.signer.Issue("alice", auth.KindSession, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	f.child = exec.Command(os.Args[0], "-test.run=^$")
	f.child.Env = append(os.Environ(), "PARKWAY_SWARM="+strconv.Itoa(n), "PARKWAY_SWARM_URL="+f.g.ws, "PARKWAY_SWARM_TOKEN="+token)
	f.child.Stderr = os.Stderr
	f.stdin, _ = f.child.StdinPipe()
	out, _ := f.child.StdoutPipe()
	f.stdout = bufio.NewReader(out)
	if err := f.child.Start(); err != nil {
		f.close()
		b.Fatal(err)
	}
	line, err := f.stdout.ReadString('\n')
	if err == nil {
		var fields []int64
		fields, err = swarmLine(line, "ready", 1)
		if err == nil {
			f.swarmCPU = time.Duration(fields[0])
		}
	}
	if err != nil {
		f.close()
		b.Fatalf("client swarm: %v", err)
	}
	if got := f.g.Sessions(); got != n {
		f.close()
		b.Fatalf("%d sessions, want %d", got, n)
	}
	f.perClient = float64(memInUse()-before) / float64(n)
	fixture.f = f
	return f
}

// round changes the phase and measures until the last client had it, and the CPU time
// both sides spent on it. The swarm is told which phase to count first, so arming it
// is not measured.
func (f *fanoutFixture) round() (roundResult, error) {
	f.phase = (f.phase + 1) % len(signaling.Phases)
	p := signaling.Phases[f.phase]
	// On a machine busy with other work a round may take long, but never forever.
	stuck := time.AfterFunc(roundLimit, func() { f.child.Process.Kill() })
	defer stuck.Stop()
	hold := ""
	if fanoutHold {
		hold = " hold"
	}
	if _, err := io.WriteString(f.stdin, string(p)+hold+"\n"); err != nil {
		return roundResult{}, err
	}
	if line, err := f.stdout.ReadString('\n'); err != nil || line != "armed\n" {
		return roundResult{}, fmt.Errorf("swarm: %q %v (killed after %v? %v)", line, err, roundLimit, !stuck.Stop())
	}
	cpu0 := cpuTime(0)
	start := time.Now()
	f.g.ctl.set(p) // returns when the hub's fan-out has (publish waits for it)
	if fanoutHold {
		if _, err := io.WriteString(f.stdin, "read\n"); err != nil {
			return roundResult{}, err
		}
	}
	line, err := f.stdout.ReadString('\n')
	took := time.Since(start)
	gw := cpuTime(0) - cpu0
	if !stuck.Stop() {
		return roundResult{}, fmt.Errorf("swarm: no \"done\" for phase %s within %v (killed it): %q %v", p, roundLimit, line, err)
	}
	if err != nil {
		return roundResult{}, fmt.Errorf("swarm: %v", err)
	}
	done, err := swarmLine(line, "done", 3)
	if err != nil {
		return roundResult{}, err
	}
	if done[1] == 0 {
		return roundResult{}, fmt.Errorf("swarm: a read of the round came without its kernel receive timestamp (SO_TIMESTAMPNS)")
	}
	// The receive timestamps are wall-clock time (CLOCK_REALTIME), as is start's.
	r := roundResult{
		read:          took,
		arrivedLast:   time.Duration(done[1] - start.UnixNano()),
		arrivedMedian: time.Duration(done[2] - start.UnixNano()),
		cpu:           roundCPU{gateway: gw, swarm: time.Duration(done[0]) - f.swarmCPU},
	}
	f.swarmCPU = time.Duration(done[0])
	return r, nil
}

// roundLimit is how long a round may wait for the swarm's "done".
const roundLimit = 2 * time.Minute

// fanoutHold: the swarm reads each round's state only once the gateway's fan-out has
// returned (see BenchmarkFanout); PARKWAY_FANOUT_HOLD=0 lets it read as states come.
var fanoutHold = os.Getenv("PARKWAY_FANOUT_HOLD") != "0"

// swarmLine parses the swarm's "WORD N..." line: n integers after the word (the CPU
// time used so far first).
func swarmLine(line, word string, n int) ([]int64, error) {
	fields := strings.Fields(line)
	if len(fields) != n+1 || fields[0] != word {
		return nil, fmt.Errorf("swarm said %q, want %q and %d numbers", line, word, n)
	}
	out := make([]int64, n)
	for i, s := range fields[1:] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("swarm said %q: %v", line, err)
		}
		out[i] = v
	}
	return out, nil
}

func (f *fanoutFixture) close() {
	if f.stdin != nil {
		f.stdin.Close() // the swarm closes its clients and exits on EOF
	}
	if f.child != nil && f.child.Process != nil {
		f.child.Wait()
	}
	for i := len(f.cleanup) - 1; i >= 0; i-- {
		f.cleanup[i]()
	}
}

// closeFanoutFixture is called by TestMain after the benchmarks.
func closeFanoutFixture() {
	fixture.mu.Lock()
	defer fixture.mu.Unlock()
	if fixture.f != nil {
		fixture.f.close()
		fixture.f = nil
	}
}

// fixtureTB collects cleanups to run when the fixture closes, not when the first
// benchmark invocation ends.
type fixtureTB struct {
	testing.TB
	cleanups []func()
}

func (t *fixtureTB) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }

// raiseNoFile lifts the soft RLIMIT_NOFILE to at least n, and the hard one when
// allowed (it needs CAP_SYS_RESOURCE).
func raiseNoFile(n uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= n {
		return nil
	}
	lim.Cur = n
	if lim.Max < n {
		lim.Max = n
	}
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}
