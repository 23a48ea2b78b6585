package gateway

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/browsertest"
	"github.com/parkway/parkway/internal/soak"
	"github.com/parkway/parkway/pool"
	"github.com/parkway/parkway/signaling"
)

// Benchmarks through the whole gateway: websocket signaling, the browser's pion
// PeerConnection, the gateway's leg and bridge, SIP through a real pool, and SIPp as the
// SIP phone. SIPp answers every call with one RTP echo port (-rtp_echo), so each probe a
// browser sends comes back to it through the gateway twice — browser → bridge → SIPp →
// bridge → browser — and the browser measures loss, lateness and round-trip time
// itself. The browsers (pion) are in this process beside the gateway; SIPp is its own
// process. BENCHMARKS.md takes the numbers through the gateway from media/webload's
// BenchmarkGatewayProcesses instead, where the gateway, the pools and the load generator
// (cmd/webload) are each a process of their own; this one stays for a run in one
// process, with its CPU split by profiler labels (cpusplit_bench_test.go).
//
//	# most concurrent calls under 0.1 % loss, stepping up; memory and CPU per step
//	go test ./gateway -run XXX -bench CallsGatewayLoad -benchtime 1x
//	PARKWAY_GW_LOAD_CALLS=10,25,50,100,150,200 PARKWAY_GW_LOAD_SECONDS=5 go test …
//	# added relay latency, ping-pong, one packet in flight, beside SIPp's echo hit directly
//	go test ./gateway -run XXX -bench CallsGatewayLatency -benchtime 3000x
//
// Timings are reported, never judged: nothing here fails on a number.

// lateAfter is a round trip after which a probe counts as late: a jitter buffer has
// given up on it long before.
const lateAfter = 200 * time.Millisecond

// probe payload: 160 bytes (20 ms of PCMU) carrying seq and send time.
const probeLen = 160

var benchEpoch = time.Now()

// loadTab is a browser for the benchmarks: a pion PeerConnection that sends probes
// and times their echoes.
type loadTab struct {
	*browsertest.Peer
	pc        *webrtc.PeerConnection
	track     *webrtc.TrackLocalStaticRTP
	connected <-chan struct{}
	echoes    chan int64 // latency benchmark: each echo's round trip, ns

	mu       sync.Mutex
	seq      uint32
	from, to uint32 // measured window of sequence numbers
	got      int    // echoes in the window
	late     int
	rtts     []time.Duration
}

func newLoadTab(tb testing.TB) *loadTab {
	tb.Helper()
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, "probe", "load")
	if err != nil {
		tb.Fatal(err)
	}
	l := &loadTab{track: track, to: ^uint32(0), echoes: make(chan int64, 1)}
	peer, err := browsertest.NewPeer(browserAPI(tb, true), track, func(p *rtp.Packet) {
		if len(p.Payload) >= 12 {
			l.echo(binary.BigEndian.Uint32(p.Payload[0:4]), int64(binary.BigEndian.Uint64(p.Payload[4:12])))
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	l.Peer, l.pc, l.connected = peer, peer.PC, peer.Connected()
	tb.Cleanup(l.Close)
	return l
}

func (l *loadTab) echo(seq uint32, sent int64) {
	rtt := time.Duration(int64(time.Since(benchEpoch)) - sent)
	select {
	case l.echoes <- int64(rtt):
	default:
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq < l.from || seq >= l.to {
		return
	}
	l.got++
	if rtt > lateAfter {
		l.late++
	}
	l.rtts = append(l.rtts, rtt)
}

// send writes one probe.
func (l *loadTab) send(payload []byte) {
	l.mu.Lock()
	seq := l.seq
	l.seq++
	l.mu.Unlock()
	binary.BigEndian.PutUint32(payload[0:4], seq)
	binary.BigEndian.PutUint64(payload[4:12], uint64(time.Since(benchEpoch)))
	_ = l.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(seq), Timestamp: seq * 160}, Payload: payload})
}

// window starts (open) or ends (close) the measured window at the next probe.
func (l *loadTab) window(open bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if open {
		l.from, l.to, l.got, l.late, l.rtts = l.seq, ^uint32(0), 0, 0, l.rtts[:0]
	} else {
		l.to = l.seq
	}
}

// loadRig is a gateway with n users, and SIPp answering every call as erin with an
// RTP echo.
type loadRig struct {
	tb    testing.TB // the whole benchmark's: calls outlive each step's sub-benchmark
	r     *callRig
	users []string
	sipp  *sippRun
	echo  int

	clients []*client
	tabs    []*loadTab
	readers sync.WaitGroup
}

func newLoadRig(b *testing.B, n int) *loadRig {
	b.Helper()
	_ = raiseNoFile(uint64(64*n + 4096))
	lr := &loadRig{tb: b}
	var users []pool.User
	for i := range n {
		name := fmt.Sprintf("u%03d", i)
		users = append(users, pool.User{Name: name, Password: name + "-pw"})
		lr.users = append(lr.users, name)
	}
	lr.r = newCallRig(b, rigOptions{users: users, demoUsers: lr.users})
	lr.echo = freeUDPPort(b)
	port := freeUDPPort(b)
	sippRegister(b, lr.r.poolA, "erin", "erin-sip", port)
	lr.sipp = sipp(b, "erin answers all", "answer.xml", "", port, []string{strconv.Itoa(lr.echo), "101"},
		"-s", "erin", "-m", strconv.Itoa(n+1), "-l", strconv.Itoa(n+1), "-timeout", "900s", "-rtp_echo", "-mp", strconv.Itoa(lr.echo))
	lr.sipp.listening(b, port)
	b.Cleanup(func() {
		for _, c := range lr.clients {
			c.conn.CloseNow()
		}
		lr.readers.Wait()
	})
	return lr
}

// addCalls signs users in and has each call erin until n calls are up. The sessions
// and tabs belong to the whole benchmark (lr.tb), not to the step that added them.
func (lr *loadRig) addCalls(b *testing.B, n int) {
	b.Helper()
	first := len(lr.clients)
	for i := first; i < n; i++ {
		c, _ := lr.r.g.connect(lr.tb, lr.users[i])
		lr.clients = append(lr.clients, c)
	}
	poll(b, "the new users registered", 2*time.Minute, func() bool {
		for _, u := range lr.users[first:n] {
			if len(lr.r.poolA.Contacts(u)) == 0 || !lr.r.g.phoneReady(u) {
				return false
			}
		}
		return true
	})
	// A few dials at a time: each gathers ICE and handshakes DTLS.
	errs := make(chan error, n-first)
	tabs := make([]*loadTab, n-first)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := first; i < n; i++ {
		tabs[i-first] = newLoadTab(lr.tb)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs <- lr.dial(lr.clients[i], tabs[i-first])
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	lr.tabs = append(lr.tabs, tabs...)
	// From now on nobody waits for these sessions' frames: drain them (answering
	// pings), so the gateway's heartbeat keeps them.
	for _, c := range lr.clients[first:n] {
		lr.readers.Add(1)
		go func() {
			defer lr.readers.Done()
			for {
				if _, _, err := c.read(); err != nil {
					return
				}
			}
		}()
	}
}

func (lr *loadRig) dial(c *client, tab *loadTab) error {
	offer, err := tab.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(tab.pc)
	if err := tab.pc.SetLocalDescription(offer); err != nil {
		return err
	}
	<-gathered
	frame, err := signaling.Encode("load", &signaling.Request{Action: signaling.ActionCall, Target: "erin", SDP: tab.pc.LocalDescription().SDP})
	if err != nil {
		return err
	}
	c.sendRaw(frame)
	var id string
	for {
		env, m, err := c.read()
		if err != nil {
			return err
		}
		switch m := m.(type) {
		case *signaling.Error:
			return fmt.Errorf("dial: %+v", m)
		case *signaling.Call:
			if env.ID == "load" && m.SDP != "" {
				id = m.ID
				if err := tab.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
					return err
				}
			}
			if m.ID == id && m.State == signaling.CallEnded {
				return fmt.Errorf("call ended: %+v", m)
			}
			if m.ID == id && m.State == signaling.CallActive {
				select {
				case <-tab.connected:
					return nil
				case <-time.After(time.Minute):
					return fmt.Errorf("tab never connected")
				}
			}
		}
	}
}

// pace sends one probe per tab every 20 ms until stop; it returns the probes sent.
func (lr *loadRig) pace(stop <-chan struct{}) int {
	payload := make([]byte, probeLen)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for {
		select {
		case <-stop:
			return sent
		case <-tick.C:
		}
		for _, t := range lr.tabs {
			t.send(payload)
			sent++
		}
	}
}

// machine logs what the numbers were measured on.
func machine(b *testing.B) { b.Logf("machine: %s", soak.Machine()) }

func loadAvg() string { return soak.LoadAvg() }

// rssBytes is this process's resident set size.
func rssBytes() int64 {
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuTime is the CPU time used so far by this process (self) or by pid.
func cpuTime(pid int) time.Duration {
	if pid == 0 {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return soak.CPU(pid)
}

func envInts(name, def string) []int {
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// BenchmarkCallsGatewayLoad steps up the number of concurrent browser⇄SIP G.711 calls
// through the whole gateway and reports, per step, the probes lost and late (round
// trip over lateAfter), the round trip's p50/p99, memory per call and CPU. It goes on
// past a step over 0.1 % lost+late — on a shared machine one step can miss by a burst
// of neighbours' load and the next pass — and stops once a step is clearly overloaded
// (1 %). The answer is the largest step under 0.1 %.
func BenchmarkCallsGatewayLoad(b *testing.B) {
	steps := envInts("PARKWAY_GW_LOAD_CALLS", "10,25,50,100,150,200,250,300")
	secs := envInts("PARKWAY_GW_LOAD_SECONDS", "5")[0]
	machine(b)
	lr := newLoadRig(b, slices.Max(steps))
	// What this goroutine starts from here is the simulated browsers' (their tabs, pion
	// PeerConnections, websockets, the pacer), which the CPU split tells from the gateway's.
	labelled(sideBrowsers)
	runtime.GC()
	heap0, rss0 := memInUse(), rssBytes()
	best := 0
	for _, n := range steps {
		var passed, overloaded bool
		b.Run(fmt.Sprintf("calls=%d", n), func(b *testing.B) {
			setup := time.Now()
			lr.addCalls(b, n)
			b.Logf("%d calls up in %v", n, time.Since(setup).Round(time.Millisecond))
			// Warm up, then measure secs seconds.
			stop := make(chan struct{})
			done := make(chan int, 1)
			go func() { done <- lr.pace(stop) }()
			time.Sleep(time.Second)
			for _, t := range lr.tabs {
				t.window(true)
			}
			split := cpuSplit()
			cpu0, sippCPU0, t0 := cpuTime(0), cpuTime(lr.sipp.Pid()), time.Now()
			time.Sleep(time.Duration(secs) * time.Second)
			shares := split()
			for _, t := range lr.tabs {
				t.window(false)
			}
			wall := time.Since(t0)
			cpu, sippCPU := cpuTime(0)-cpu0, cpuTime(lr.sipp.Pid())-sippCPU0
			time.Sleep(time.Second) // the last probes come back, or count as lost
			close(stop)
			<-done

			var sent, got, late int
			var rtts []time.Duration
			for _, t := range lr.tabs {
				t.mu.Lock()
				sent += int(t.to - t.from)
				got += t.got
				late += t.late
				rtts = append(rtts, t.rtts...)
				t.mu.Unlock()
			}
			slices.Sort(rtts)
			lost := max(0, sent-got)
			lossPct := 100 * float64(lost) / float64(max(1, sent))
			latePct := 100 * float64(late) / float64(max(1, sent))
			heap, rss := memInUse(), rssBytes()
			var p50, p99 time.Duration
			if len(rtts) > 0 {
				p50, p99 = percentile(rtts, 50), percentile(rtts, 99)
			}
			b.ReportMetric(lossPct, "lost-%")
			b.ReportMetric(latePct, "late-%")
			b.ReportMetric(float64(p50)/1e6, "rtt-p50-ms")
			b.ReportMetric(float64(p99)/1e6, "rtt-p99-ms")
			b.ReportMetric(float64(heap-heap0)/float64(n)/1024, "heap-KiB/call")
			b.ReportMetric(float64(rss-rss0)/float64(n)/1024, "rss-KiB/call")
			b.ReportMetric(100*float64(cpu)/float64(wall), "cpu-%core")
			b.ReportMetric(100*float64(sippCPU)/float64(wall), "sipp-cpu-%core")
			if shares != nil {
				pct := 100 * float64(cpu) / float64(wall)
				b.ReportMetric(pct*shares[sideGateway], "gateway-cpu-%core")
				b.ReportMetric(pct*shares[sideBrowsers], "browsers-cpu-%core")
				b.ReportMetric(pct*shares[sidePools], "pools-cpu-%core")
				b.ReportMetric(pct*shares[sideGC], "gc-cpu-%core")
				b.Logf("calls=%d: of the process's CPU, the gateway %.0f %%, the simulated browsers %.0f %%, the pools %.0f %%, the garbage collector %.0f %%",
					n, 100*shares[sideGateway], 100*shares[sideBrowsers], 100*shares[sidePools], 100*shares[sideGC])
			}
			b.Logf("calls=%d load=%s sent=%d lost=%d (%.3f%%) late=%d (%.3f%%) rtt p50=%v p99=%v heap+stacks %.0f KiB/call rss %.0f KiB/call process CPU %.0f%% of a core, SIPp %.0f%%",
				n, loadAvg(), sent, lost, lossPct, late, latePct, p50.Round(time.Microsecond), p99.Round(time.Microsecond),
				float64(heap-heap0)/float64(n)/1024, float64(rss-rss0)/float64(n)/1024, 100*float64(cpu)/float64(wall), 100*float64(sippCPU)/float64(wall))
			passed = lossPct+latePct < 0.1
			overloaded = lossPct+latePct >= 1
		})
		if passed {
			best = n
		}
		if overloaded {
			break
		}
	}
	b.Logf("most concurrent calls under 0.1%% lost+late: %d (load average now %s)", best, loadAvg())
	// For BENCHMARKS.md: the most calls that passed, and the most tried (a max equal to
	// it says the steps stopped before the gateway did).
	b.Run("summary", func(b *testing.B) {
		for b.Loop() {
		}
		b.ReportMetric(float64(best), "max-calls")
		b.ReportMetric(float64(slices.Max(steps)), "most-calls-tried")
		b.ReportMetric(0, "ns/op")
	})
}

// BenchmarkCallsGatewayLatency is ping-pong with one packet in flight: a browser's
// probe through the gateway to SIPp's echo and back, and the same echo hit directly
// from a UDP socket. The difference is what the gateway adds to a round trip (two
// passes: browser → SIP and SIP → browser, with pion's SRTP on both browser ends).
func BenchmarkCallsGatewayLatency(b *testing.B) {
	machine(b)
	lr := newLoadRig(b, 1)
	lr.addCalls(b, 1)
	tab := lr.tabs[0]
	direct, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close()
	echoAddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: lr.echo}
	payload := make([]byte, probeLen)
	buf := make([]byte, 1500)
	// Let the path settle (ICE consent, first RTCP) before timing it.
	for range 50 {
		tab.send(payload)
		select {
		case <-tab.echoes:
		case <-time.After(time.Second):
		}
	}
	through := make([]time.Duration, 0, b.N)
	straight := make([]time.Duration, 0, b.N)
	var timeouts atomic.Int64
	b.ResetTimer()
	for range b.N {
		tab.send(payload)
		select {
		case rtt := <-tab.echoes:
			through = append(through, time.Duration(rtt))
		case <-time.After(time.Second):
			timeouts.Add(1)
		}
		t0 := time.Now()
		if _, err := direct.WriteToUDP(payload, echoAddr); err != nil {
			b.Fatal(err)
		}
		_ = direct.SetReadDeadline(time.Now().Add(time.Second))
		if _, _, err := direct.ReadFromUDP(buf); err == nil {
			straight = append(straight, time.Since(t0))
		} else {
			timeouts.Add(1)
		}
	}
	b.StopTimer()
	if len(through) == 0 || len(straight) == 0 {
		b.Fatalf("no echoes (timeouts %d)", timeouts.Load())
	}
	slices.Sort(through)
	slices.Sort(straight)
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	tp50, tp99 := percentile(through, 50), percentile(through, 99)
	dp50, dp99 := percentile(straight, 50), percentile(straight, 99)
	b.ReportMetric(us(tp50), "through-p50-µs")
	b.ReportMetric(us(tp99), "through-p99-µs")
	b.ReportMetric(us(dp50), "direct-p50-µs")
	b.ReportMetric(us(dp99), "direct-p99-µs")
	b.ReportMetric(us(tp50-dp50), "added-p50-µs")
	b.ReportMetric(us(tp99-dp99), "added-p99-µs")
	b.Logf("n=%d load=%s round trip through the gateway p50 %v p99 %v; direct to SIPp's echo p50 %v p99 %v; timeouts %d",
		b.N, loadAvg(), tp50, tp99, dp50, dp99, timeouts.Load())
}
