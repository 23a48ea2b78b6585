package rtpload

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/parkway/parkway/media/ngrelay"
)

// Config says what load to play.
type Config struct {
	// NG is the relay's ng control address; zero: no relay, the parties
	// send to each other (the baseline).
	NG netip.AddrPort
	// Calls is how many concurrent calls; each sends 100 packets/s.
	Calls int
	// Warmup runs before the measured window (packets sent in it are not
	// counted), Duration is the window, Grace the wait for stragglers.
	Warmup, Duration, Grace time.Duration
	// Interval is the packet interval (default 20 ms), LateAfter the
	// one-way latency past which a packet is late (default 20 ms).
	Interval, LateAfter time.Duration
	// Addr is where the parties' sockets bind (default 127.0.0.1).
	Addr netip.Addr
	// Senders is how many goroutines pace the sending (default 4).
	Senders int
	// OnWindow, when set, is called as the measured window starts and
	// ends (the benchmark samples the relay's CPU there).
	OnWindow func(start bool)
}

// Result is what the load measured, over both directions.
type Result struct {
	Calls            int
	Seconds          float64 // measured window
	Sent, Received   int64   // packets sent in the window, and of them received
	Late, Reordered  int64   // received later than LateAfter; behind a newer one
	Lost             int64   // Sent − Received
	LossPct, LatePct float64 // of Sent
	P50, P99, Max    time.Duration
	SendErrors       int64
	LoadCPU          float64 // this process's CPU over the window, % of one core
}

// payload layout after the 12-byte RTP header: send time (ns since the
// run's epoch), then a flag byte, 1 when sent in the measured window.
const (
	headerLen  = 12
	payloadLen = 160
	offSent    = headerLen
	offWindow  = headerLen + 8
)

// party is one end of a call: its socket and where it sends.
type party struct {
	conn *net.UDPConn
	to   netip.AddrPort
	ssrc uint32
	seq  uint16
	ts   uint32
	buf  [headerLen + payloadLen]byte
}

type run struct {
	cfg     Config
	epoch   time.Time
	window  atomic.Bool
	sent    atomic.Int64
	sendErr atomic.Int64
	recv    atomic.Int64
	late    atomic.Int64
	reorder atomic.Int64
	hist    histogram
}

// Run plays the load and returns what it measured. ctx ends it early
// (an error).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Calls <= 0 {
		return nil, errors.New("rtpload: Calls must be positive")
	}
	if cfg.Duration <= 0 {
		return nil, errors.New("rtpload: Duration must be positive")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 20 * time.Millisecond
	}
	if cfg.LateAfter <= 0 {
		cfg.LateAfter = 20 * time.Millisecond
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 500 * time.Millisecond
	}
	if cfg.Senders <= 0 {
		cfg.Senders = 4
	}
	if !cfg.Addr.IsValid() {
		cfg.Addr = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	r := &run{cfg: cfg, epoch: time.Now()}

	parties, cleanup, err := r.setup(ctx)
	defer cleanup()
	if err != nil {
		return nil, err
	}
	var rwg sync.WaitGroup
	for _, p := range parties {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			r.receive(p.conn)
		}()
	}
	stop := make(chan struct{})
	var swg sync.WaitGroup
	for g := range cfg.Senders {
		var mine []*party
		for i := g; i < len(parties); i += cfg.Senders {
			mine = append(mine, parties[i])
		}
		swg.Add(1)
		go func() {
			defer swg.Done()
			r.send(mine, g, stop)
		}()
	}

	wait := func(d time.Duration) error {
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err = wait(cfg.Warmup)
	var cpu0 time.Duration
	var t0 time.Time
	if err == nil {
		if cfg.OnWindow != nil {
			cfg.OnWindow(true)
		}
		cpu0, t0 = cpuTime(), time.Now()
		r.window.Store(true)
		err = wait(cfg.Duration)
		r.window.Store(false)
	}
	secs := time.Since(t0).Seconds()
	cpu := cpuTime() - cpu0
	if err == nil && cfg.OnWindow != nil {
		cfg.OnWindow(false)
	}
	close(stop)
	swg.Wait()
	if err == nil {
		err = wait(cfg.Grace)
	}
	for _, p := range parties {
		_ = p.conn.Close()
	}
	rwg.Wait()
	if err != nil {
		return nil, err
	}
	res := &Result{
		Calls: cfg.Calls, Seconds: secs,
		Sent: r.sent.Load(), Received: r.recv.Load(), Late: r.late.Load(), Reordered: r.reorder.Load(),
		SendErrors: r.sendErr.Load(),
		LoadCPU:    100 * cpu.Seconds() / secs,
	}
	res.Lost = max(res.Sent-res.Received, 0)
	if res.Sent > 0 {
		res.LossPct = 100 * float64(res.Lost) / float64(res.Sent)
		res.LatePct = 100 * float64(res.Late) / float64(res.Sent)
	}
	res.P50, res.P99, res.Max = r.hist.quantile(0.5), r.hist.quantile(0.99), r.hist.max()
	return res, nil
}

// setup opens both parties' sockets for every call and, with a relay,
// sets each call up through it. cleanup closes what setup opened and
// deletes the calls.
func (r *run) setup(ctx context.Context) (parties []*party, cleanup func(), err error) {
	var ng *ngrelay.Client
	var ids []string
	cleanup = func() {
		for _, p := range parties {
			_ = p.conn.Close()
		}
		if ng != nil {
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for _, id := range ids {
				_ = ng.Delete(dctx, id, "caller")
			}
			_ = ng.Close()
		}
	}
	if r.cfg.NG.IsValid() {
		if ng, err = ngrelay.Dial(r.cfg.NG); err != nil {
			return nil, cleanup, err
		}
		if err := ng.Ping(ctx); err != nil {
			return nil, cleanup, fmt.Errorf("rtpload: relay at %v: %w", r.cfg.NG, err)
		}
	}
	listen := func() (*party, error) {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(r.cfg.Addr, 0)))
		if err != nil {
			return nil, fmt.Errorf("rtpload: listen: %w", err)
		}
		_ = c.SetReadBuffer(1 << 18)
		p := &party{conn: c, ssrc: uint32(len(parties) + 1), seq: uint16(len(parties) * 7919), ts: uint32(len(parties)) * 1000003}
		parties = append(parties, p)
		return p, nil
	}
	for i := range r.cfg.Calls {
		caller, err := listen()
		if err != nil {
			return parties, cleanup, err
		}
		callee, err := listen()
		if err != nil {
			return parties, cleanup, err
		}
		ca, ce := addrOf(caller.conn), addrOf(callee.conn)
		if ng == nil {
			caller.to, callee.to = ce, ca
			continue
		}
		id := "rtpload-" + strconv.Itoa(i) + "-" + strconv.FormatInt(r.epoch.UnixNano(), 36)
		forCallee, err := ng.Offer(ctx, id, "caller", ngrelay.AudioSDP(ca, i))
		if err != nil {
			return parties, cleanup, fmt.Errorf("rtpload: call %d: %w", i, err)
		}
		ids = append(ids, id)
		forCaller, err := ng.Answer(ctx, id, "caller", "callee", ngrelay.AudioSDP(ce, i))
		if err != nil {
			return parties, cleanup, fmt.Errorf("rtpload: call %d: %w", i, err)
		}
		if callee.to, err = ngrelay.SDPAudioAddr(forCallee); err != nil {
			return parties, cleanup, err
		}
		if caller.to, err = ngrelay.SDPAudioAddr(forCaller); err != nil {
			return parties, cleanup, err
		}
	}
	return parties, cleanup, nil
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// send paces its parties: party i of n sends at phase i/n of each
// interval, so the relay sees an even rate, not bursts every 20 ms. It
// wakes every tick and sends what is due; the send time stamped is the
// moment of the write, so the tick's coarseness is not counted as latency.
func (r *run) send(parties []*party, group int, stop chan struct{}) {
	if len(parties) == 0 {
		return
	}
	iv := r.cfg.Interval
	n := time.Duration(len(parties))
	// Offset the groups too, so their phases interleave.
	base := time.Now().Add(iv * time.Duration(group) / time.Duration(r.cfg.Senders) / n)
	next := 0
	round := time.Duration(0)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		now := time.Now()
		for now.After(base.Add(round*iv + iv*time.Duration(next)/n)) {
			r.sendOne(parties[next])
			if next++; next == len(parties) {
				next, round = 0, round+1
			}
		}
	}
}

func (r *run) sendOne(p *party) {
	b := p.buf[:]
	b[0], b[1] = 0x80, 0 // V=2, PCMU
	binary.BigEndian.PutUint16(b[2:], p.seq)
	binary.BigEndian.PutUint32(b[4:], p.ts)
	binary.BigEndian.PutUint32(b[8:], p.ssrc)
	p.seq++
	p.ts += 160
	inWindow := r.window.Load()
	b[offWindow] = 0
	if inWindow {
		b[offWindow] = 1
	}
	binary.BigEndian.PutUint64(b[offSent:], uint64(time.Since(r.epoch)))
	if _, err := p.conn.WriteToUDPAddrPort(b, p.to); err != nil {
		r.sendErr.Add(1)
		return
	}
	if inWindow {
		r.sent.Add(1)
	}
}

// receive reads one party's socket until it closes.
func (r *run) receive(c *net.UDPConn) {
	buf := make([]byte, 1500)
	var last uint16
	started := false
	for {
		n, _, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if n < offWindow+1 || buf[0]>>6 != 2 {
			continue
		}
		lat := time.Since(r.epoch) - time.Duration(binary.BigEndian.Uint64(buf[offSent:]))
		seq := binary.BigEndian.Uint16(buf[2:])
		reordered := started && int16(seq-last) <= 0
		if !reordered {
			last, started = seq, true
		}
		if buf[offWindow] != 1 {
			continue
		}
		r.recv.Add(1)
		if reordered {
			r.reorder.Add(1)
		}
		if lat > r.cfg.LateAfter {
			r.late.Add(1)
		}
		r.hist.add(lat)
	}
}

// histogram counts latencies in 10 µs buckets up to 1 s; slower ones
// land in the last bucket (and max keeps the real maximum).
type histogram struct {
	buckets [100001]atomic.Int64
	maxNs   atomic.Int64
}

const bucketWidth = 10 * time.Microsecond

func (h *histogram) add(d time.Duration) {
	i := max(int(d/bucketWidth), 0)
	if i >= len(h.buckets) {
		i = len(h.buckets) - 1
	}
	h.buckets[i].Add(1)
	for {
		m := h.maxNs.Load()
		if int64(d) <= m || h.maxNs.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

func (h *histogram) max() time.Duration { return time.Duration(h.maxNs.Load()) }

func (h *histogram) quantile(q float64) time.Duration {
	var total int64
	for i := range h.buckets {
		total += h.buckets[i].Load()
	}
	if total == 0 {
		return 0
	}
	want := int64(q*float64(total-1)) + 1
	var seen int64
	for i := range h.buckets {
		if seen += h.buckets[i].Load(); seen >= want {
			return time.Duration(i)*bucketWidth + bucketWidth/2
		}
	}
	return h.max()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
