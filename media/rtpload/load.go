package rtpload

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/parkway/parkway/media/ngrelay"
)

// Config says what load to play.
type Config struct {
	// NG is the relay's ng control address; zero: no relay, the parties
	// send to each other (the self-check: what the load generator itself
	// adds).
	NG netip.AddrPort
	// Calls is how many concurrent calls; each sends 100 packets/s (50
	// each way).
	Calls int
	// Warmup runs before the measured window (packets due in it are not
	// counted), Duration is the window, Grace the wait for stragglers
	// after the last packet is sent.
	Warmup, Duration, Grace time.Duration
	// Interval is the packet interval (default 20 ms), LateAfter how long
	// after its due time a packet may arrive and still be on time
	// (default 20 ms).
	Interval, LateAfter time.Duration
	// Parties is the IPv4 loopback prefix the parties' addresses are taken
	// from, one address each, all on one UDP port (default 127.2.0.0/16:
	// 65,024 parties). It must lie in 127.0.0.0/8: the sockets are bound to
	// the loopback device.
	Parties netip.Prefix
	// Workers is how many paced send loops and receive sockets share the
	// parties (default GOMAXPROCS).
	Workers int
	// SendTick is the send loops' pace (default 2 ms): a loop wakes, sends
	// every packet now due with one sendmmsg, and sleeps; a packet leaves
	// at most SendTick after its due time (and that counts in its
	// lateness). ReceivePace is how long a receive loop waits after a read
	// that did not fill a batch (default 10 ms); arrival times come from
	// the kernel, so it adds no lateness. Measured at 1,000 calls on the
	// 2-core VM: 2 ms and 10 ms cost ≈ 15 % less CPU than 1 ms and 4 ms.
	SendTick, ReceivePace time.Duration
	// Realtime runs the load generator's threads at the highest normal
	// priority (nice −20; it needs CAP_SYS_NICE), confined to one CPU when
	// there are two or more (see realtime in io_linux.go), so that a machine
	// busy with other work does not hold its sending back: phones on their
	// own hardware do not wait for the relay's neighbours. It lasts for
	// the rest of the process's life: a process of its own (cmd/rtpload)
	// is what it is for.
	Realtime bool
	// MaxSendLag ends the sending when the generator falls further behind
	// its schedule than this (default 1 s): the load is then beyond what
	// it can play here, and a real-time process catching up would hog the
	// machine. The packets never sent count as lost (Result.Overrun says
	// why).
	MaxSendLag time.Duration
	// OnWindow, when set, is called as the measured window starts and
	// ends (the benchmark samples the relay's CPU there).
	OnWindow func(start bool)

	// route, when set, stands in for the ng set-up in tests: it gets a
	// call's two parties' addresses and says where each sends.
	route func(call int, caller, callee netip.AddrPort) (callerTo, calleeTo netip.AddrPort, err error)
}

// Result is what the load measured, over both directions. A packet is
// "in the window" when its due time is; Sent, Received and what follows
// count only those.
type Result struct {
	Calls            int
	Seconds          float64 // measured window
	Sent, Received   int64   // packets due in the window (the load offered), and of them received
	Late, Reordered  int64   // arrived more than LateAfter after their due time; behind a newer one of their stream
	Lost             int64   // Sent − Received
	Duplicates       int64   // a packet received a second time (not counted again)
	Misrouted        int64   // arrived at a party other than its stream's receiver (not counted as received)
	Malformed        int64   // not one of this run's packets
	LossPct, LatePct float64 // of Sent
	P50, P99, Max    time.Duration
	SendLagP99       time.Duration // the load generator's own lateness: send time − due time, 99th percentile
	SendLagMax       time.Duration
	ReceiveDrops     int64 // dropped by the kernel at the load generator's own sockets (full receive buffer)
	SendErrors       int64
	Unsent           int64 // due in the window but never sent (send errors, overrun)
	Overrun          bool  // the sending fell more than MaxSendLag behind and stopped
	// Stopped says Run's context ended it after the measured window had begun: the
	// window (Seconds) is cut at the moment the sending stopped, and everything
	// counts over that part (see Run).
	Stopped bool
	LoadCPU float64 // this process's CPU over the window, % of one core
}

// Packet layout: the 12-byte RTP header, then 160 bytes of payload that
// start with the sending party's index, the packet's number in its
// stream and its due time (ns after the run's start). The relay rewrites
// the header (SSRC, sequence, timestamp) but passes the payload on.
const (
	headerLen  = 12
	payloadLen = 160
	packetLen  = headerLen + payloadLen
	offStream  = headerLen
	offNumber  = headerLen + 4
	offDue     = headerLen + 8
)

var be = binary.BigEndian

// party is one end of a call. As a sender it owns a stream: packet k is
// due at start + k·Interval + phase. The receive side of its stream (what
// its peer gets) is tracked here too, by the stream's number.
type party struct {
	addr  netip.AddrPort // it sends from and receives on this address
	to    netip.AddrPort // where it sends
	peer  int            // the index of the other party of its call
	phase time.Duration
	ssrc  uint32
	seq   uint16
	ts    uint32
	next  uint32 // number of the next packet to send
	buf   [packetLen]byte
	out   sendMsg // the prebuilt message (platform part)

	// The receive side of this party's stream. One receive loop reads a
	// stream (the kernel hashes its source to one socket); atomics keep
	// it correct if not.
	seen    []atomic.Uint64 // bit k: packet k arrived
	highest atomic.Int64    // highest packet number seen, −1 before any
}

type run struct {
	cfg       Config
	parties   []*party
	start     time.Time // the schedule's origin
	startWall int64     // start as Unix ns: kernel receive times are wall-clock
	// The window and the end of sending, as due times after start.
	winStart, winEnd, sendEnd time.Duration
	// stopRecv ends the receive loops once they have drained their sockets.
	stopRecv atomic.Bool
	// overrun ends the send loops: one fell more than MaxSendLag behind.
	overrun atomic.Bool
	// sendLimit is sendEnd until Run's context ends; then the moment it ended: the
	// send loops send what was due before it and nothing after (nanoseconds).
	sendLimit atomic.Int64

	sent, sendErr                            atomic.Int64
	recv, late, reorder, dup, misrouted, bad atomic.Int64
	drops                                    atomic.Int64
	hist, lag                                histogram
}

// Run plays the load and returns what it measured. ctx ends it early: before the
// measured window that is an error; once the window has begun, the sending stops,
// the receive loops wait Grace for what is still on its way, and the result covers
// the window up to the moment the sending stopped (Result.Stopped) — a load that
// is stopped (cmd/rtpload on SIGTERM) still says what it saw.
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
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.SendTick <= 0 {
		cfg.SendTick = 2 * time.Millisecond
	}
	if cfg.ReceivePace <= 0 {
		cfg.ReceivePace = 10 * time.Millisecond
	}
	if cfg.MaxSendLag <= 0 {
		cfg.MaxSendLag = time.Second
	}
	if !cfg.Parties.IsValid() {
		cfg.Parties = netip.MustParsePrefix("127.2.0.0/16")
	}
	addrs, err := partyAddrs(cfg.Parties, 2*cfg.Calls)
	if err != nil {
		return nil, err
	}
	r := &run{cfg: cfg}
	r.hist.init()
	r.lag.init()
	io, port, err := openSockets(r, cfg.Workers)
	if err != nil {
		return nil, err
	}
	defer io.close()
	r.makeParties(addrs, port)
	teardown, err := r.setup(ctx)
	defer teardown()
	if err != nil {
		return nil, err
	}

	// The schedule starts a little ahead, so every loop starts on time.
	r.start = time.Now().Add(10 * time.Millisecond)
	r.startWall = r.start.UnixNano()
	r.winStart = cfg.Warmup
	r.winEnd = cfg.Warmup + cfg.Duration
	r.sendEnd = r.winEnd + cfg.Interval // the window's last packets have company
	r.sendLimit.Store(int64(r.sendEnd))
	if cfg.Realtime {
		if err := realtime(); err != nil {
			return nil, err
		}
	}
	// Each loop keeps its P while it sleeps or waits (io_linux.go): leave
	// as many again for the rest.
	if want := 2*cfg.Workers + runtime.NumCPU(); runtime.GOMAXPROCS(0) < want {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(want))
	}
	runtime.GC() // what setting up allocated, collected before the clock starts
	io.start()

	wait := func(until time.Duration) error {
		t := time.NewTimer(time.Until(r.start.Add(until)))
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err = wait(r.winStart)
	if err != nil {
		io.stop()
		return nil, err
	}
	if cfg.OnWindow != nil {
		cfg.OnWindow(true)
	}
	cpu0, t0 := cpuTime(), time.Now()
	stopped := wait(r.winEnd) != nil
	secs := time.Since(t0).Seconds()
	cpu := cpuTime() - cpu0
	if stopped {
		// Nothing due from now on is sent, so the window ends now; what was due
		// before is sent still, and has Grace to arrive.
		cut := min(time.Since(r.start), r.winEnd)
		r.sendLimit.Store(int64(cut))
		io.sendWG.Wait()
		time.Sleep(cfg.Grace)
		io.stop()
		r.winEnd = cut // the receive loops have ended: nobody reads it now
		secs = max((cut - r.winStart).Seconds(), 0)
	} else {
		if cfg.OnWindow != nil {
			cfg.OnWindow(false)
		}
		stopped = wait(r.sendEnd+cfg.Grace) != nil
	}
	io.stop()
	if secs <= 0 {
		return nil, fmt.Errorf("rtpload: stopped as the measured window began: %w", ctx.Err())
	}
	res := &Result{
		Calls: cfg.Calls, Seconds: secs, Overrun: r.overrun.Load(), Stopped: stopped,
		Sent: r.offered(), Received: r.recv.Load(), Late: r.late.Load(), Reordered: r.reorder.Load(),
		Duplicates: r.dup.Load(), Misrouted: r.misrouted.Load(), Malformed: r.bad.Load(),
		ReceiveDrops: r.drops.Load(), SendErrors: r.sendErr.Load(),
		LoadCPU: 100 * cpu.Seconds() / secs,
	}
	res.Unsent = max(res.Sent-r.sent.Load(), 0)
	res.Lost = max(res.Sent-res.Received, 0)
	if res.Sent > 0 {
		res.LossPct = 100 * float64(res.Lost) / float64(res.Sent)
		res.LatePct = 100 * float64(res.Late) / float64(res.Sent)
	}
	res.P50, res.P99, res.Max = r.hist.quantile(0.5), r.hist.quantile(0.99), r.hist.max()
	res.SendLagP99, res.SendLagMax = r.lag.quantile(0.99), r.lag.max()
	return res, nil
}

// partyAddrs takes n addresses from prefix, skipping those whose last
// byte is 0 or 255.
func partyAddrs(prefix netip.Prefix, n int) ([]netip.Addr, error) {
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	if !prefix.Addr().Is4() || prefix.Bits() < 8 || !loopback.Contains(prefix.Addr()) {
		return nil, fmt.Errorf("rtpload: parties' prefix %v is not inside 127.0.0.0/8", prefix)
	}
	prefix = prefix.Masked()
	addrs := make([]netip.Addr, 0, n)
	for a := prefix.Addr(); len(addrs) < n; a = a.Next() {
		if !prefix.Contains(a) {
			return nil, fmt.Errorf("rtpload: %d parties do not fit in %v", n, prefix)
		}
		if b := a.As4(); b[3] != 0 && b[3] != 255 {
			addrs = append(addrs, a)
		}
	}
	return addrs, nil
}

// makeParties gives every party its address, its peer and its phase: the
// streams' phases spread evenly over the interval, so the relay sees a
// steady rate.
func (r *run) makeParties(addrs []netip.Addr, port uint16) {
	n := len(addrs)
	perStream := int((r.cfg.Warmup+r.cfg.Duration+2*r.cfg.Interval)/r.cfg.Interval) + 2
	r.parties = make([]*party, n)
	for i, a := range addrs {
		p := &party{
			addr:  netip.AddrPortFrom(a, port),
			peer:  i ^ 1, // 2c is call c's caller, 2c+1 its callee
			phase: r.cfg.Interval * time.Duration(i) / time.Duration(n),
			ssrc:  uint32(i + 1), seq: uint16(i * 7919), ts: uint32(i) * 1000003,
			seen: make([]atomic.Uint64, (perStream+63)/64),
		}
		p.highest.Store(-1)
		r.parties[i] = p
	}
}

// setup tells every party where to send: with a relay, what the relay's
// ng answers say; without, its peer. The teardown deletes the calls.
func (r *run) setup(ctx context.Context) (teardown func(), err error) {
	route := r.cfg.route
	teardown = func() {}
	if route == nil && r.cfg.NG.IsValid() {
		ng, err := ngrelay.Dial(r.cfg.NG)
		if err != nil {
			return teardown, err
		}
		if err := ng.Ping(ctx); err != nil {
			_ = ng.Close()
			return teardown, fmt.Errorf("rtpload: relay at %v: %w", r.cfg.NG, err)
		}
		tag := strconv.FormatInt(time.Now().UnixNano(), 36)
		var ids []string
		teardown = func() {
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for _, id := range ids {
				_ = ng.Delete(dctx, id, "caller")
			}
			_ = ng.Close()
		}
		route = func(i int, caller, callee netip.AddrPort) (callerTo, calleeTo netip.AddrPort, err error) {
			id := "rtpload-" + strconv.Itoa(i) + "-" + tag
			forCallee, err := ng.Offer(ctx, id, "caller", ngrelay.AudioSDP(caller, i))
			if err != nil {
				return callerTo, calleeTo, fmt.Errorf("rtpload: call %d: %w", i, err)
			}
			ids = append(ids, id)
			forCaller, err := ng.Answer(ctx, id, "caller", "callee", ngrelay.AudioSDP(callee, i))
			if err != nil {
				return callerTo, calleeTo, fmt.Errorf("rtpload: call %d: %w", i, err)
			}
			if calleeTo, err = ngrelay.SDPAudioAddr(forCallee); err != nil {
				return callerTo, calleeTo, err
			}
			callerTo, err = ngrelay.SDPAudioAddr(forCaller)
			return callerTo, calleeTo, err
		}
	}
	for c := range r.cfg.Calls {
		caller, callee := r.parties[2*c], r.parties[2*c+1]
		if route == nil {
			caller.to, callee.to = callee.addr, caller.addr
		} else if caller.to, callee.to, err = route(c, caller.addr, callee.addr); err != nil {
			return teardown, err
		}
		for _, p := range []*party{caller, callee} {
			if !p.to.Addr().Is4() {
				return teardown, fmt.Errorf("rtpload: call %d: party %v told to send to %v, not an IPv4 address", c, p.addr, p.to)
			}
			p.out.build(p)
		}
	}
	return teardown, nil
}

// stamp writes packet p.next into p.buf: header, then stream, number and
// due time. It returns the due time.
func (r *run) stamp(p *party, index int) time.Duration {
	k := p.next
	due := time.Duration(k)*r.cfg.Interval + p.phase
	b := p.buf[:]
	b[0], b[1] = 0x80, 0 // V=2, PCMU
	be.PutUint16(b[2:], p.seq)
	be.PutUint32(b[4:], p.ts)
	be.PutUint32(b[8:], p.ssrc)
	be.PutUint32(b[offStream:], uint32(index))
	be.PutUint32(b[offNumber:], k)
	be.PutUint64(b[offDue:], uint64(due))
	p.seq++
	p.ts += 160
	p.next++
	return due
}

// offered is the number of packets due in the window, over every stream.
func (r *run) offered() int64 {
	iv := r.cfg.Interval
	// first is the number of a stream's first packet due at t or later.
	first := func(t, phase time.Duration) int64 { return int64(max((t-phase+iv-1)/iv, 0)) }
	var n int64
	for _, p := range r.parties {
		n += first(r.winEnd, p.phase) - first(r.winStart, p.phase)
	}
	return n
}

// inWindow says whether a packet due at due counts.
func (r *run) inWindow(due time.Duration) bool { return due >= r.winStart && due < r.winEnd }

// arrived records one datagram b, received at wall time at (Unix ns) by
// the party at dst, in c (the receive loop adds c to the run's totals
// after each batch). Only packets due in the window count, malformed ones
// aside.
func (r *run) arrived(b []byte, dst netip.Addr, at int64, c *counts) {
	if len(b) < packetLen || b[0]>>6 != 2 {
		c.bad++
		return
	}
	stream := int(be.Uint32(b[offStream:]))
	if stream >= len(r.parties) {
		c.bad++
		return
	}
	s := r.parties[stream]
	k := int64(be.Uint32(b[offNumber:]))
	due := time.Duration(be.Uint64(b[offDue:]))
	if due != time.Duration(k)*r.cfg.Interval+s.phase || int(k/64) >= len(s.seen) {
		c.bad++
		return
	}
	in := r.inWindow(due)
	if r.parties[s.peer].addr.Addr() != dst {
		if in {
			c.misrouted++
		}
		return
	}
	word, bit := &s.seen[k/64], uint64(1)<<(k%64)
	if word.Or(bit)&bit != 0 {
		if in {
			c.dup++
		}
		return
	}
	reordered := false
	for {
		h := s.highest.Load()
		if k < h {
			reordered = true
			break
		}
		if s.highest.CompareAndSwap(h, k) {
			break
		}
	}
	if !in {
		return
	}
	c.recv++
	if reordered {
		c.reorder++
	}
	lateness := time.Duration(at-r.startWall) - due
	if lateness > r.cfg.LateAfter {
		c.late++
	}
	r.hist.add(lateness)
}

// counts is what a receive loop adds up over a batch before it adds it to
// the run's totals.
type counts struct{ recv, late, reorder, dup, misrouted, bad int64 }

func (r *run) add(c *counts) {
	r.recv.Add(c.recv)
	r.late.Add(c.late)
	r.reorder.Add(c.reorder)
	r.dup.Add(c.dup)
	r.misrouted.Add(c.misrouted)
	r.bad.Add(c.bad)
	*c = counts{}
}

// histogram counts durations in 10 µs buckets up to 1 s; longer ones
// land in the last bucket (and max keeps the real maximum). Negative ones
// (a packet that arrived before its due time: the sender ran early within
// its tick) count as zero.
type histogram struct {
	buckets []atomic.Int64
	maxNs   atomic.Int64
}

const bucketWidth = 10 * time.Microsecond

func (h *histogram) init() { h.buckets = make([]atomic.Int64, 100001) }

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
