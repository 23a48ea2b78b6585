package media

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// The RTP poller reads the SIP-side RTP sockets of every bridge in the
// process with one goroutine per core instead of one goroutine per call.
//
// Why: a goroutine blocked in ReadFrom costs, per 20 ms packet, a read
// that succeeds, a read that fails with EAGAIN (Go's netpoller is
// edge-triggered, so the reader must drain), the netpoller's epoll_wait
// and a goroutine wake-up — at 50 packets/s per call nothing is ever
// batched. Here each worker owns a level-triggered epoll set of sockets
// and reads every ready socket once with recvmmsg (ipv4.PacketConn
// ReadBatch, MSG_DONTWAIT): one syscall per packet (fewer when packets
// queue), one epoll_wait per round over all ready sockets, and no wake-up
// per call. A worker waits in a blocking epoll_wait of its own (its thread
// leaves its P to the scheduler meanwhile). Parking the epoll descriptor in
// Go's netpoller instead (nested epoll) was tried and measured: under a
// loaded machine its wake-ups came late — one-way latency p50 0.4–1 s and
// up to 15 % loss at 250–500 calls where a goroutine per socket had none —
// because the netpoller is polled when a P runs out of work, not the
// moment the kernel has packets.
//
// Each socket belongs to one worker for its life, so its handler always
// runs on one goroutine: the per-packet state needs no lock, as with the
// goroutine-per-call reader it replaces. Sockets are spread round-robin
// over the workers, and the workers over the cores.

// pollBatch is how many datagrams one recvmmsg takes from a socket. A call
// has at most a few queued (one per 20 ms); more only under overload, when
// reading them in one syscall is what lets the relay catch up.
const pollBatch = 8

// rtpPoller is a set of workers; see above.
type rtpPoller struct {
	workers []*pollWorker
	next    atomic.Uint32
}

type pollWorker struct {
	epfd   int
	closed atomic.Bool
	events []unix.EpollEvent
	msgs   []ipv4.Message // batch buffers, reused for every socket

	mu     sync.Mutex // guards regs, nextID
	regs   map[uint32]*pollReg
	nextID uint32
}

// pollReg is one socket registered with a worker.
type pollReg struct {
	w      *pollWorker
	id     uint32
	pc     batchReader
	fd     int
	handle func(pkt []byte, src netip.AddrPort)

	// mu is held while the worker reads and dispatches this socket's
	// packets; remove takes it, so once remove returns the handler never
	// runs again.
	mu      sync.Mutex
	removed bool
}

// batchReader is ipv4.PacketConn or ipv6.PacketConn: recvmmsg on Linux.
// (Their Message types are one type, golang.org/x/net's socket.Message.)
type batchReader interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
}

var (
	defaultPollerOnce sync.Once
	defaultPollerVal  *rtpPoller
	defaultPollerErr  error
)

// defaultPoller is the process's shared poller, one worker per
// GOMAXPROCS, started on first use; it lives as long as the process.
func defaultPoller() (*rtpPoller, error) {
	defaultPollerOnce.Do(func() {
		defaultPollerVal, defaultPollerErr = newRTPPoller(runtime.GOMAXPROCS(0))
	})
	return defaultPollerVal, defaultPollerErr
}

func newRTPPoller(workers int) (*rtpPoller, error) {
	p := &rtpPoller{}
	for range max(workers, 1) {
		w, err := newPollWorker()
		if err != nil {
			return nil, err
		}
		p.workers = append(p.workers, w)
		go w.run()
	}
	return p, nil
}

func newPollWorker() (*pollWorker, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("media: epoll_create1: %w", err)
	}
	w := &pollWorker{epfd: epfd, events: make([]unix.EpollEvent, 128), regs: map[uint32]*pollReg{}}
	w.msgs = make([]ipv4.Message, pollBatch)
	for i := range w.msgs {
		w.msgs[i].Buffers = [][]byte{make([]byte, maxPacket)}
	}
	return w, nil
}

// close stops the workers (the default poller is never closed; tests
// close their own).
// Workers notice within pollWakeup.
func (p *rtpPoller) close() {
	for _, w := range p.workers {
		w.closed.Store(true)
	}
}

// pollWakeup bounds each epoll_wait, so a closed poller's workers end
// (closing an epoll descriptor does not wake a thread waiting on it).
const pollWakeup = 100 // ms

// add registers conn: handle gets every datagram it receives, on the
// worker's goroutine, until remove. The caller keeps owning conn (and
// writing to it); it must call remove before closing it.
func (p *rtpPoller) add(conn *net.UDPConn, handle func(pkt []byte, src netip.AddrPort)) (*pollReg, error) {
	w := p.workers[int(p.next.Add(1))%len(p.workers)]
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("media: poller: %w", err)
	}
	fd := -1
	if err := rc.Control(func(s uintptr) { fd = int(s) }); err != nil {
		return nil, fmt.Errorf("media: poller: %w", err)
	}
	var pc batchReader = ipv4.NewPacketConn(conn)
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		pc = ipv6.NewPacketConn(conn)
	}
	w.mu.Lock()
	w.nextID++
	for w.regs[w.nextID] != nil { // after 2^32 registrations
		w.nextID++
	}
	r := &pollReg{w: w, id: w.nextID, pc: pc, fd: fd, handle: handle}
	w.regs[r.id] = r
	w.mu.Unlock()
	// The event carries the registration's id, never a pointer: a stale
	// event for a removed socket finds nothing in regs.
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(r.id)}
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		w.mu.Lock()
		delete(w.regs, r.id)
		w.mu.Unlock()
		return nil, fmt.Errorf("media: epoll_ctl add: %w", err)
	}
	return r, nil
}

// remove stops reading the socket and waits for a dispatch in progress.
func (r *pollReg) remove() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.removed {
		return
	}
	r.removed = true
	// The socket is still open (the caller closes it after remove), so
	// its descriptor is still this socket's.
	_ = unix.EpollCtl(r.w.epfd, unix.EPOLL_CTL_DEL, r.fd, nil)
	r.w.mu.Lock()
	delete(r.w.regs, r.id)
	r.w.mu.Unlock()
}

// run waits for ready sockets and drains each once per round.
func (w *pollWorker) run() {
	defer unix.Close(w.epfd)
	for !w.closed.Load() {
		n, err := unix.EpollWait(w.epfd, w.events, pollWakeup)
		if err != nil {
			continue // EINTR
		}
		for i := range n {
			id := uint32(w.events[i].Fd)
			w.mu.Lock()
			r := w.regs[id]
			w.mu.Unlock()
			if r != nil {
				r.drain(w.msgs)
			}
		}
	}
}

// drain reads what the socket holds, a batch at a time, and dispatches it.
func (r *pollReg) drain(msgs []ipv4.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.removed {
		return
	}
	for {
		n, err := r.pc.ReadBatch(msgs, unix.MSG_DONTWAIT)
		for i := range n {
			m := &msgs[i]
			ua, ok := m.Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			r.handle(m.Buffers[0][:m.N], ua.AddrPort())
		}
		if err != nil || n < len(msgs) {
			// EAGAIN (a spurious readiness) or a closing socket: the
			// level-triggered set reports it again if anything is left.
			return
		}
	}
}
