package pool

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
)

// Overload is admission control for the whole pool (the flood limit is per source): when
// the pool falls behind, new work is refused with 503 and Retry-After before any state
// is made for it, so a pool past its capacity sheds calls instead of failing the ones it
// took halfway through (issue #12).
//
// "Behind" is measured, not guessed from counters, by two signals every 10 ms, each a
// moving average over about 100 ms, and the worse of them is compared with MaxDelay:
//
//   - the scheduling delay: a probe goroutine asks to wake every 10 ms and notes how late
//     it woke — the time a runnable goroutine waits for a CPU, whether the pool's own
//     work or another process starves it;
//   - the read-queue delay (queueProbe): how long a datagram the gate sends to the pool's
//     own UDP socket, and one to the park service's, waits before the read loop reaches
//     it — the time each SIP message waits in the kernel's queue and for the one
//     goroutine that reads the socket, which is where a pool past its capacity falls
//     behind first (and then drops datagrams, failing the calls they belong to).
//
// A pool that has read no SIP message but OPTIONS (the gateways' health probes) for
// idleAfter measures every idleEvery instead: an idle demo's two pools woke 300 times a
// second for nothing (≈ 5 % of a core a demo). The next other message read wakes the
// probe, which is back at 10 ms from then on.
//
// Above MaxDelay, and for overloadHold after, new calls are refused: an INVITE outside a
// dialog that is not a transfer (no Referred-By), does not replace a dialog (no
// Replaces) and is not for the park service, and a REFER outside a dialog.
//
// Falling behind also sets a limit on new calls a second (admissionRate,
// overloadrate.go): the delay says that the pool took too much, the limit how much it
// may take while the work of the calls it took is still arriving. A node that starts
// takes new calls at a rate that grows while it keeps up (the start-up ramp, same file).
//
// Parks, transfers and retrieves are never refused: they finish calls already taken (a
// park refused would fail the transfer halfway, a retrieve refused would leave the call
// waiting on its orbit), and they are what frees the pool again.
//
// In-dialog requests, ACK, CANCEL, BYE, OPTIONS (health probes must get through) and the
// peer pool's and park service's own requests are never refused: they finish work
// already taken. On by default as a guard that only a pool busy with its own work trips
// (Overload.MaxDelay); the refusals are stateless over UDP, answered from the read loop
// like the flood limit's.
type Overload struct {
	// MaxDelay is the delay (the worse moving average of the two) beyond which new calls
	// are refused, whatever makes the pool late. 20–50 ms suits a pool whose calls must
	// not notice; the benchmark uses 30 ms. 0 keeps the default guard: new calls are
	// refused when the delay passes DefaultMaxDelay while the pool itself keeps a CPU
	// busy (DefaultBusyCPU) — its own work, not a neighbour's, is what makes it late.
	MaxDelay time.Duration
	// RetryAfter is the Retry-After of the refusals; default 2 s.
	RetryAfter time.Duration
	// Off turns admission control off, the default guard too.
	Off bool
}

// The default guard (Overload with no MaxDelay): refuse new calls once messages wait
// DefaultMaxDelay while the pool's own CPU time over the same 100 ms is at least
// DefaultBusyCPU of one CPU. A pool starved by other processes on a shared machine (a
// test run, say) is late without being busy, and keeps admitting: only a pool past its
// own capacity sheds, before it fails calls it took.
const (
	DefaultMaxDelay = 100 * time.Millisecond
	DefaultBusyCPU  = 0.8
)

// overloadGate measures the pool's delays and decides admissions.
type overloadGate struct {
	max, retryAfter time.Duration
	busy            float64      // > 0: refuse only while the process uses this many CPUs
	cpu             atomic.Int64 // the process's CPU use (moving average), in thousandths of a CPU
	delay           atomic.Int64 // the worse of the two moving averages below, ns
	sched, queue    atomic.Int64 // scheduling delay and read-queue delay (moving averages), ns
	refused         atomic.Int64

	holdUntil atomic.Int64  // nanotime until which new calls stay refused (overloadHold)
	lastSeen  atomic.Int64  // nanotime the last SIP message was read (saw)
	ticks     atomic.Int64  // measurements taken, for tests of the pace
	wake      chan struct{} // saw's nudge to a probe measuring at the idle pace
	rate      admissionRate // the limit on new calls a second set by falling behind (overloadrate.go)
	admitted  admittedCalls // the new calls let in, so their retransmissions are too
}

func newOverloadGate(o Overload) *overloadGate {
	if o.Off {
		return nil
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = 2 * time.Second
	}
	g := &overloadGate{max: o.MaxDelay, retryAfter: o.RetryAfter, wake: make(chan struct{}, 1)}
	if o.MaxDelay <= 0 {
		g.max, g.busy = DefaultMaxDelay, DefaultBusyCPU
	}
	return g
}

// The idle pace (see Overload): after idleAfter with no SIP message read, the probe
// measures every idleEvery until the next one.
const (
	idleAfter = 2 * time.Second
	idleEvery = 500 * time.Millisecond
)

// saw notes a SIP message read (the read filter's and the handler's call, so every
// transport counts), and wakes a probe that measures at the idle pace. It is one
// atomic load for all but one message a millisecond. A nil gate (admission control
// off) ignores it.
func (g *overloadGate) saw() {
	if g == nil {
		return
	}
	now := nanotime()
	last := g.lastSeen.Load()
	if now-last < int64(time.Millisecond) || !g.lastSeen.CompareAndSwap(last, now) {
		return
	}
	if now-last >= int64(idleAfter) {
		select {
		case g.wake <- struct{}{}:
		default:
		}
	}
}

// udpReadBuffer is the receive buffer asked for the pool's SIP socket: with it, a pool
// falling behind shows as read-queue delay, which the gate answers with 503s, rather
// than as datagrams lost. The park service asks for the same (park.Service.Start).
const udpReadBuffer = 1 << 20

// gateEpoch is the origin of the gate's monotonic clock (nanotime).
var gateEpoch = time.Now()

func nanotime() int64 { return int64(time.Since(gateEpoch)) + 1 } // never 0: 0 means "none"

// queueProbe is the pool's second signal: a datagram the gate sends to one of its own
// SIP sockets (the pool's, the park service's) every 10 ms, and the time until that
// socket's read loop gets to it. That is how long
// every SIP message waits in the socket's receive queue and for the one goroutine that
// reads it — a backlog the scheduling delay does not see (one busy reader keeps one CPU
// busy and the other free) and which, left to grow, ends in the kernel dropping
// datagrams and the calls they belong to failing halfway.
type queueProbe struct {
	conn   *net.UDPConn // the gate's own socket; its address marks the pings
	target *net.UDPAddr // the SIP socket measured
	from   *net.UDPAddr

	// The monotonic time the outstanding ping was sent (0: none outstanding) and the
	// delay the last one that arrived measured.
	sent, last atomic.Int64
	avg        float64 // moving average of the delay; only the gate's probe loop uses it
}

// newQueueProbe opens a ping socket for the UDP listener at target; pings go over the
// loopback when it listens on every address.
func newQueueProbe(target *net.UDPAddr) (*queueProbe, error) {
	to := *target
	if to.IP == nil || to.IP.IsUnspecified() {
		to.IP = net.IPv4(127, 0, 0, 1)
		if target.IP != nil && target.IP.To4() == nil {
			to.IP = net.IPv6loopback
		}
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: to.IP})
	if err != nil {
		return nil, err
	}
	return &queueProbe{conn: c, target: &to, from: c.LocalAddr().(*net.UDPAddr)}, nil
}

// arrived is the read loop's check of each datagram: true for the probe's ping, whose
// arrival it notes (the caller drops it: it is not SIP).
func (q *queueProbe) arrived(addr net.Addr) bool {
	ua, ok := addr.(*net.UDPAddr)
	if !ok || ua.Port != q.from.Port || !ua.IP.Equal(q.from.IP) {
		return false
	}
	if sent := q.sent.Swap(0); sent != 0 {
		q.last.Store(nanotime() - sent)
	}
	return true
}

var pingPayload = []byte("\r\n\r\n")

// measure folds the probe's latest sample into its moving average and sends the next
// ping when the last one has arrived; it returns the average.
func (q *queueProbe) measure() float64 {
	// The last ping's delay, or — still unread — its age so far: a read loop that has
	// stopped keeping up counts from the moment it did.
	sample := float64(q.last.Load())
	if sent := q.sent.Load(); sent != 0 {
		sample = float64(nanotime() - sent)
	} else {
		// Noted before it is sent: the read loop may get to it at once.
		q.sent.Store(nanotime())
		if _, err := q.conn.WriteToUDP(pingPayload, q.target); err != nil {
			q.sent.Store(0)
		}
	}
	q.avg += (sample - q.avg) / 10
	return q.avg
}

// probe measures until ctx ends: every 10 ms it notes how late its own timer woke (the
// scheduling delay) and takes a sample of each read queue (the pool's SIP socket, the
// park service's), whose sockets it closes when it ends.
func (g *overloadGate) probe(ctx context.Context, queues ...*queueProbe) {
	const every = 10 * time.Millisecond
	for _, q := range queues {
		defer q.conn.Close()
	}
	t := time.NewTimer(every)
	defer t.Stop()
	want := time.Now().Add(every)
	var sched, cpu float64
	cpu0, wall0 := processCPU(), time.Now()
	last := nanotime()
	g.lastSeen.Store(last) // the first idleAfter at full pace: a pool starts busy
	g.rate.startRamp(last) // a node starts cold (overloadrate.go)
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return
		case now = <-t.C:
		case <-g.wake:
			// A message after a quiet spell: measure now, then at the full pace.
			now = time.Now()
			t.Stop() // Reset below; since Go 1.23 no stale tick is left in t.C
		}
		late := float64(time.Since(want))
		if late < 0 {
			late = 0
		}
		// Exponential moving averages over about ten samples (100 ms): one slow
		// wake-up is not an overload, a run of them is.
		sched += (late - sched) / 10
		var queue float64
		for _, q := range queues {
			queue = max(queue, q.measure())
		}
		if g.busy > 0 {
			c, w := processCPU(), time.Now()
			if dw := w.Sub(wall0); dw > 0 {
				cpu += (float64(c-cpu0)/float64(dw) - cpu) / 10
			}
			cpu0, wall0 = c, w
			g.cpu.Store(int64(cpu * 1000))
		}
		g.sched.Store(int64(sched))
		g.queue.Store(int64(queue))
		g.delay.Store(int64(max(sched, queue)))
		behind := g.behind()
		if behind {
			g.holdUntil.Store(nanotime() + int64(overloadHold))
		}
		tick := nanotime()
		g.ticks.Add(1)
		g.rate.tick(tick, time.Duration(tick-last), behind)
		last = tick
		next := every
		if tick-g.lastSeen.Load() >= int64(idleAfter) {
			next = idleEvery
		}
		want = now.Add(next)
		t.Reset(next)
	}
}

// overloadHold is how long new calls stay refused after the delay was last over the
// limit. A call taken now still costs the pool work seconds later (a park's transfer,
// its retrieve), so a door that opened the moment the queue drained would let in a
// new wave on top of that work and fall behind again; this keeps it shut through the
// refused callers' Retry-After's first half.
const overloadHold = time.Second

// behind reports whether the measured delay is over the limit (and, for the default
// guard, the pool itself busy).
func (g *overloadGate) behind() bool {
	return time.Duration(g.delay.Load()) > g.max && (g.busy == 0 || float64(g.cpu.Load())/1000 >= g.busy)
}

// overloaded reports whether new calls are refused now: the pool is behind, or was
// within overloadHold.
func (g *overloadGate) overloaded() bool {
	return g.behind() || nanotime() < g.holdUntil.Load()
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// admitOverload refuses req when the pool is overloaded and req starts new work.
func (n *node) admitOverload(req *sip.Request) *sipError {
	g := n.pool.overload
	if g == nil {
		return nil
	}
	if req.Method != sip.INVITE && req.Method != sip.REFER {
		return nil
	}
	if to := req.To(); to == nil || to.Params.Has("tag") {
		return nil // in a dialog
	}
	if req.GetHeader("Replaces") != nil {
		return nil
	}
	if req.Method == sip.INVITE {
		user := req.Recipient.User
		if req.GetHeader("Referred-By") != nil || user == parkwire.ParkUser || n.ownsOrbit(user) {
			return nil
		}
	}
	// A new call: refused while the pool is behind (or was, within overloadHold), and
	// beyond the rate falling behind set (overloadrate.go) — unless it is a copy of one
	// already let in.
	now := nanotime()
	if g.admitted.seen(req, now) {
		return nil
	}
	var why string
	switch {
	case g.overloaded():
		why = "pool overloaded: messages wait " +
			strconv.FormatInt(time.Duration(g.delay.Load()).Milliseconds(), 10) + " ms to be handled (limit " +
			strconv.FormatInt(g.max.Milliseconds(), 10) + " ms; " +
			strconv.FormatInt(time.Duration(g.queue.Load()).Milliseconds(), 10) + " ms in the read queue, " +
			strconv.FormatInt(time.Duration(g.sched.Load()).Milliseconds(), 10) + " ms for a CPU)"
	case !g.rate.take():
		if g.rate.warming() {
			why = "pool starting: it takes " + strconv.FormatFloat(g.rate.rate(), 'f', 0, 64) +
				" new calls a second, more each second it keeps up"
		} else {
			why = "pool overloaded: it takes " + strconv.FormatFloat(g.rate.rate(), 'f', 0, 64) +
				" new calls a second until the calls it has are done"
		}
	default:
		g.admitted.add(req, now)
		return nil
	}
	g.refused.Add(1)
	e := &sipError{Code: 503, Reason: "Overloaded", RetryAfter: g.retryAfter}
	e.Headers = []sip.Header{n.warning(why)}
	return e
}
