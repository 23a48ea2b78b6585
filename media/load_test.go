package media

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// The load benchmark runs the gateway side (Factory, Legs, Bridges) in the
// benchmark process and the far ends — N pion "browsers" and N UDP
// "phones" — in a child process (this test binary re-run as
// TestLoadPeers), so memory and CPU are the gateway's alone. Both share
// the machine's cores, as they would not in production: the call counts
// found are a floor.
//
//	go test ./media -run XXX -bench Load -benchtime 1x
//	MEDIA_LOAD_CALLS=25,50,100,200 MEDIA_LOAD_SECONDS=10 go test ./media -run XXX -bench Load -benchtime 1x
const (
	envLoadCalls   = "MEDIA_LOAD_CALLS"   // comma-separated call counts; default 10
	envLoadSeconds = "MEDIA_LOAD_SECONDS" // measured seconds per count; default 5
	envLoadPeers   = "MEDIA_LOAD_PEERS"   // set in the child: how many far ends to run
)

// loadMsg is one line between the benchmark and its child, prefixed with
// "LOAD " so test framework output on the same stdout is skipped.
type loadMsg struct {
	Kind   string      `json:"kind"` // offer, answer, ready, go, result, bye
	I      int         `json:"i,omitempty"`
	SDP    string      `json:"sdp,omitempty"`
	Addr   string      `json:"addr,omitempty"`
	Result *loadResult `json:"result,omitempty"`
}

type loadResult struct {
	SentUp, RecvUp     int64   // browser → gateway → phone
	SentDown, RecvDown int64   // phone → gateway → browser
	Seconds            float64 // length of the measured window
	LateUp, LateDown   int64   // arrived, but later than lateLimit
	SendErrors         int64
	PeersCPU           float64 // the far ends' CPU, % of one core
	UpP50, UpP99       time.Duration
	DownP50, DownP99   time.Duration
}

func loadSend(w io.Writer, m loadMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "LOAD %s\n", b)
	return err
}

// loadRecv reads the next LOAD line, skipping anything else.
func loadRecv(sc *bufio.Scanner) (loadMsg, error) {
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "LOAD ")
		if !ok {
			continue
		}
		var m loadMsg
		err := json.Unmarshal([]byte(line), &m)
		return m, err
	}
	if err := sc.Err(); err != nil {
		return loadMsg{}, err
	}
	return loadMsg{}, io.EOF
}

func envInts(name string, def []int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// BenchmarkLoad runs N concurrent bridged calls at 50 packets/s each way
// and reports loss, gateway CPU and memory per call for each N.
func BenchmarkLoad(b *testing.B) {
	logMachine(b)
	secs := envInts(envLoadSeconds, []int{5})[0]
	for _, n := range envInts(envLoadCalls, []int{10}) {
		b.Run(fmt.Sprintf("calls=%d", n), func(b *testing.B) {
			for b.Loop() {
				runLoad(b, n, secs)
			}
		})
	}
}

func runLoad(b *testing.B, n, secs int) {
	before := heapInuse()
	f := testFactory(b)

	cmd := exec.Command(os.Args[0], "-test.run=^TestLoadPeers$", "-test.count=1")
	cmd.Env = append(os.Environ(), envLoadPeers+"="+strconv.Itoa(n), envLoadSeconds+"="+strconv.Itoa(secs))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<16), 1<<20)

	legs := make([]*Leg, 0, n)
	defer func() {
		for _, l := range legs {
			_ = l.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*waitLong)
	defer cancel()
	for range n {
		m, err := loadRecv(sc)
		if err != nil || m.Kind != "offer" {
			b.Fatalf("child: %+v %v", m, err)
		}
		leg, err := f.NewLeg(nil)
		if err != nil {
			b.Fatal(err)
		}
		legs = append(legs, leg)
		ans, err := leg.AcceptGathered(ctx, webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP})
		if err != nil {
			b.Fatal(err)
		}
		phone, err := netip.ParseAddrPort(m.Addr)
		if err != nil {
			b.Fatal(err)
		}
		if err := leg.Bridge().SetRemote(Remote{Addr: phone, Codec: PCMU, EventPT: sipEventPT}); err != nil {
			b.Fatal(err)
		}
		if err := loadSend(stdin, loadMsg{Kind: "answer", I: m.I, SDP: ans.SDP, Addr: leg.Bridge().LocalAddr().String()}); err != nil {
			b.Fatal(err)
		}
	}
	if m, err := loadRecv(sc); err != nil || m.Kind != "ready" {
		b.Fatalf("child not ready: %+v %v", m, err)
	}
	mem := heapInuse()
	if mem < before {
		mem = before
	}
	cpu0, wall0 := cpuTime(), time.Now()
	if err := loadSend(stdin, loadMsg{Kind: "go"}); err != nil {
		b.Fatal(err)
	}
	m, err := loadRecv(sc)
	if err != nil || m.Kind != "result" || m.Result == nil {
		b.Fatalf("child result: %+v %v", m, err)
	}
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	_ = loadSend(stdin, loadMsg{Kind: "bye"})
	stdin.Close()

	r := m.Result
	var drops, toSIP, toBrowser uint64
	for _, l := range legs {
		s := l.Bridge().Stats()
		toSIP += s.ToSIP
		toBrowser += s.ToBrowser
		drops += s.WrongSource + s.Malformed + s.UnknownPayload + s.CodecMismatch + s.NoRoute + s.WriteErrors
	}
	lossUp := 100 * float64(r.SentUp-r.RecvUp) / float64(max(r.SentUp, 1))
	lossDown := 100 * float64(r.SentDown-r.RecvDown) / float64(max(r.SentDown, 1))
	effUp := 100 * float64(r.SentUp-r.RecvUp+r.LateUp) / float64(max(r.SentUp, 1))
	effDown := 100 * float64(r.SentDown-r.RecvDown+r.LateDown) / float64(max(r.SentDown, 1))
	b.ReportMetric(effUp, "effloss-up-%")
	b.ReportMetric(effDown, "effloss-down-%")
	b.ReportMetric(lossUp, "loss-up-%")
	b.ReportMetric(lossDown, "loss-down-%")
	b.ReportMetric(float64(mem-before)/float64(n)/1024, "KiB/call")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "gateway-cpu-%")
	b.ReportMetric(float64(r.UpP50.Microseconds()), "up-p50-µs")
	b.ReportMetric(float64(r.UpP99.Microseconds()), "up-p99-µs")
	b.ReportMetric(float64(r.DownP50.Microseconds()), "down-p50-µs")
	b.ReportMetric(float64(r.DownP99.Microseconds()), "down-p99-µs")
	b.ReportMetric(0, "ns/op")
	// Offered load as a share of 50 packets/s per call each way: below
	// ~99% the far ends, not the gateway, were the limit.
	offered := 100 * float64(r.SentUp+r.SentDown) / (2 * 50 * float64(n) * r.Seconds)
	b.ReportMetric(offered, "offered-%")
	b.Logf("calls=%d: offered %.1f%% of 50 pps/call each way; up %d/%d (%.3f%% lost, %.3f%% with arrivals > 200 ms), down %d/%d (%.3f%% lost, %.3f%%), gateway heap+stacks %.0f KiB/call, gateway CPU %.0f%% of one core (far ends %.0f%%), bridge forwarded %d up / %d down (whole run) and dropped %d, far-end send errors %d; load average %s",
		n, offered, r.RecvUp, r.SentUp, lossUp, effUp, r.RecvDown, r.SentDown, lossDown, effDown, float64(mem-before)/float64(n)/1024, 100*cpu.Seconds()/wall.Seconds(), r.PeersCPU, toSIP, toBrowser, drops, r.SendErrors, loadAverage())
}

// TestLoadPeers is the far-end process of BenchmarkLoad; it does nothing
// unless started by it.
func TestLoadPeers(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(envLoadPeers))
	if n == 0 {
		t.Skip("started by BenchmarkLoad only")
	}
	secs, _ := strconv.Atoi(os.Getenv(envLoadSeconds))
	if err := runLoadPeers(n, time.Duration(secs)*time.Second); err != nil {
		t.Fatal(err)
	}
}

// loadPeer is one call's far ends: a pion browser and a UDP phone.
type loadPeer struct {
	pc    *webrtc.PeerConnection
	track *Track
	phone *net.UDPConn
	to    netip.AddrPort // the bridge's RTP address
	seq   uint16
	ts    uint32

	phoneSSRC uint32
	phoneSeq  uint16
	pkt       [fixedHeader + 160]byte
}

// loadStats gathers arrivals of measured packets from all calls.
type loadStats struct {
	measuring          atomic.Bool
	sentUp, recvUp     atomic.Int64
	sentDown, recvDown atomic.Int64
	sendErrors         atomic.Int64
	lateUp, lateDown   atomic.Int64
	mu                 sync.Mutex
	up, down           []time.Duration
}

// lateLimit is when an arrival no longer counts: a receiver's jitter
// buffer has played out (or concealed) the frame by then, and ITU-T G.114
// puts the comfortable one-way mouth-to-ear budget at 150 ms, of which a
// relay should spend a small part. The load benchmark counts later
// arrivals as lost in its effective loss.
const lateLimit = 200 * time.Millisecond

// The first payload byte says whether a packet was sent while measuring,
// the next eight its send time: arrivals are matched without per-packet
// state, and one-way delay works across the two processes' shared clock.
func stampLoad(p []byte, measured bool) {
	p[0] = 0
	if measured {
		p[0] = 1
	}
	binary.BigEndian.PutUint64(p[1:], uint64(time.Now().UnixNano()))
}

func (s *loadStats) arrived(p []byte, up bool) {
	if len(p) < 9 || p[0] != 1 {
		return
	}
	d := time.Duration(time.Now().UnixNano() - int64(binary.BigEndian.Uint64(p[1:])))
	if d > lateLimit {
		if up {
			s.lateUp.Add(1)
		} else {
			s.lateDown.Add(1)
		}
	}
	s.mu.Lock()
	if up {
		s.recvUp.Add(1)
		s.up = append(s.up, d)
	} else {
		s.recvDown.Add(1)
		s.down = append(s.down, d)
	}
	s.mu.Unlock()
}

func runLoadPeers(n int, measure time.Duration) error {
	in := bufio.NewScanner(os.Stdin)
	// A light browser: G.711 and no interceptors, so the child spends its
	// CPU on the media the gateway relays, not on its own bookkeeping.
	me := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{codecParameters(PCMU), eventParameters()} {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return err
		}
	}
	se := webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(&interceptor.Registry{}))

	var st loadStats
	var wg sync.WaitGroup
	peers := make([]*loadPeer, n)
	connected := make(chan struct{}, n)
	defer func() {
		for _, p := range peers {
			if p != nil {
				_ = p.pc.Close()
				_ = p.phone.Close()
			}
		}
		wg.Wait()
	}()
	for i := range peers {
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			return err
		}
		phone, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return err
		}
		p := &loadPeer{pc: pc, track: NewTrack("mic", "load", PCMU), phone: phone, phoneSSRC: uint32(i) + 0x10000}
		peers[i] = p
		if _, err := pc.AddTransceiverFromTrack(p.track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
			return err
		}
		var once sync.Once
		pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			if s == webrtc.PeerConnectionStateConnected {
				once.Do(func() { connected <- struct{}{} })
			}
		})
		pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, maxPacket)
				var w wire
				for {
					k, _, err := tr.Read(buf)
					if err != nil {
						return
					}
					if parseRTP(buf[:k], &w) {
						st.arrived(buf[w.payload:w.end], false)
					}
				}
			}()
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, maxPacket)
			var w wire
			for {
				k, _, err := phone.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				if parseRTP(buf[:k], &w) {
					st.arrived(buf[w.payload:w.end], true)
				}
			}
		}()
		gathered := webrtc.GatheringCompletePromise(pc)
		offer, err := pc.CreateOffer(nil)
		if err != nil {
			return err
		}
		if err := pc.SetLocalDescription(offer); err != nil {
			return err
		}
		<-gathered
		if err := loadSend(os.Stdout, loadMsg{Kind: "offer", I: i, SDP: pc.LocalDescription().SDP, Addr: phone.LocalAddr().String()}); err != nil {
			return err
		}
		m, err := loadRecv(in)
		if err != nil || m.Kind != "answer" || m.I != i {
			return fmt.Errorf("answer %d: %+v %v", i, m, err)
		}
		if p.to, err = netip.ParseAddrPort(m.Addr); err != nil {
			return err
		}
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
			return err
		}
	}
	for range n {
		select {
		case <-connected:
		case <-time.After(10 * waitLong):
			return fmt.Errorf("peers did not connect")
		}
	}
	if err := loadSend(os.Stdout, loadMsg{Kind: "ready"}); err != nil {
		return err
	}
	if m, err := loadRecv(in); err != nil || m.Kind != "go" {
		return fmt.Errorf("go: %+v %v", m, err)
	}

	// Pacers send one 20 ms packet per call per frame: 50 packets/s each
	// way per call, as G.711 at ptime 20. Each side is split into shards
	// of 16 calls with a pacer each (browsers and phones are independent
	// senders; one loop over hundreds of pion writes would fall behind on
	// its own). A pacer that falls behind catches up in a burst rather
	// than skipping frames, so the offered load stays honest and a
	// saturated machine shows as delay or loss, not as a lower rate.
	stop := make(chan struct{})
	var pacers sync.WaitGroup
	start := time.Now()
	pace := func(shard []*loadPeer, send func(p *loadPeer, payload []byte, measured bool)) {
		defer pacers.Done()
		payload := make([]byte, 160)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		frames := 0
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				for due := int(time.Since(start) / (20 * time.Millisecond)); frames < due; frames++ {
					m := st.measuring.Load()
					for _, p := range shard {
						send(p, payload, m)
					}
				}
			}
		}
	}
	browserSend := func(p *loadPeer, payload []byte, measured bool) {
		stampLoad(payload, measured)
		h := rtp.Header{Version: 2, SequenceNumber: p.seq, Timestamp: p.ts}
		p.seq++
		p.ts += 160
		err := p.track.WriteRTP(&h, payload, false)
		switch {
		case err != nil:
			st.sendErrors.Add(1)
		case measured:
			st.sentUp.Add(1)
		}
	}
	phoneSend := func(p *loadPeer, payload []byte, measured bool) {
		stampLoad(payload, measured)
		putHeader(p.pkt[:], false, uint8(PCMU), p.phoneSeq, uint32(p.phoneSeq)*160, p.phoneSSRC)
		p.phoneSeq++
		k := fixedHeader + copy(p.pkt[fixedHeader:], payload)
		_, err := p.phone.WriteToUDPAddrPort(p.pkt[:k], p.to)
		switch {
		case err != nil:
			st.sendErrors.Add(1)
		case measured:
			st.sentDown.Add(1)
		}
	}
	for lo := 0; lo < n; lo += 16 {
		shard := peers[lo:min(lo+16, n)]
		pacers.Add(2)
		go pace(shard, browserSend)
		go pace(shard, phoneSend)
	}
	time.Sleep(time.Second) // warm-up: pion buffers and jitter settle
	st.measuring.Store(true)
	t0, cpu0 := time.Now(), cpuTime()
	time.Sleep(measure)
	st.measuring.Store(false)
	window := time.Since(t0).Seconds()
	peersCPU := 100 * (cpuTime() - cpu0).Seconds() / window
	time.Sleep(time.Second) // drain what was sent while measuring
	close(stop)
	pacers.Wait()

	st.mu.Lock()
	r := &loadResult{LateUp: st.lateUp.Load(), LateDown: st.lateDown.Load(), Seconds: window, SendErrors: st.sendErrors.Load(), PeersCPU: peersCPU, SentUp: st.sentUp.Load(), RecvUp: st.recvUp.Load(), SentDown: st.sentDown.Load(), RecvDown: st.recvDown.Load()}
	r.UpP50, r.UpP99 = percentiles(st.up)
	r.DownP50, r.DownP99 = percentiles(st.down)
	st.mu.Unlock()
	if err := loadSend(os.Stdout, loadMsg{Kind: "result", Result: r}); err != nil {
		return err
	}
	_, _ = loadRecv(in) // bye, or EOF when the benchmark is gone
	return nil
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	slices.Sort(d)
	return d[len(d)/2], d[len(d)*99/100]
}

// loadAverage is /proc/loadavg's first three fields: the machine is shared,
// and a number measured at load 15 on 2 cores says more about the
// neighbours than about the bridge.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
