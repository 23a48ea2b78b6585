package media

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// muxIO is a MuxRelay's sockets, all bound to one port with
// SO_REUSEPORT, and the workers that read them: each worker owns some of
// the sockets and reads all of them each time it wakes.
type muxIO struct {
	socks   []*muxSocket
	workers []*muxWorker
	closed  atomic.Bool
	wake    int // eventfd, readable once closed: ends a worker's wait for packets
	wg      sync.WaitGroup
	raised  int // the Ps added to GOMAXPROCS for the workers' sleeps
}

// muxWorker is one worker: a goroutine that wakes every Pace, reads each
// of its sockets (again at once while a read fills a batch), routes and
// sends what it read, and sleeps again.
type muxWorker struct {
	io    *muxIO
	r     *MuxRelay
	socks []*muxSocket
	pfds  []unix.PollFd // the wake eventfd, then each socket: the wait when nothing arrives
}

// mmsghdr is struct mmsghdr (recvmmsg(2), sendmmsg(2)); Go pads it as C
// does.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// muxSocket is one socket of the shared port and its buffers: the
// receive and send vectors are built once, so a packet costs no
// allocation. Only its worker touches them.
type muxSocket struct {
	fd int // closed once the workers have ended
	v6 bool

	buf   []byte // muxBatch × maxPacket
	rname [muxBatch]unix.RawSockaddrInet6
	riov  [muxBatch]unix.Iovec
	rmsgs [muxBatch]mmsghdr

	sname [muxBatch]unix.RawSockaddrInet6
	siov  [muxBatch]unix.Iovec
	smsgs [muxBatch]mmsghdr
	sfrom [muxBatch]*muxSide
	nsend int
}

// muxReadBuffer is the receive buffer each shared socket asks for: one
// socket carries many calls, and a worker that a loaded machine keeps from
// running must not lose what arrives meanwhile (measured at load 30 on 2
// cores: 4 MiB — net.core.rmem_max here — overflowed at 500 calls, where
// a socket per call has 500 default buffers). 16 MiB holds ≈ 300 ms of
// 500 calls; older audio is of no use to anyone. Above rmem_max it takes
// CAP_NET_ADMIN (SO_RCVBUFFORCE); without, the kernel's cap applies.
const muxReadBuffer = 16 << 20

func listenMux(r *MuxRelay, addr netip.AddrPort, n, workers int) (*muxIO, netip.AddrPort, error) {
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, addr, fmt.Errorf("media: mux relay: eventfd: %w", err)
	}
	io := &muxIO{wake: wake}
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	for range n {
		s, err := openMuxSocket(addr)
		if err != nil {
			_ = io.close()
			return nil, addr, fmt.Errorf("media: mux relay listen %v: %w", addr, err)
		}
		io.socks = append(io.socks, s)
		if addr.Port() == 0 {
			// The others join the port the kernel chose.
			sa, err := unix.Getsockname(s.fd)
			if err != nil {
				_ = io.close()
				return nil, addr, fmt.Errorf("media: mux relay: getsockname: %w", err)
			}
			switch sa := sa.(type) {
			case *unix.SockaddrInet4:
				addr = netip.AddrPortFrom(addr.Addr(), uint16(sa.Port))
			case *unix.SockaddrInet6:
				addr = netip.AddrPortFrom(addr.Addr(), uint16(sa.Port))
			}
		}
	}
	workers = min(max(workers, 1), n)
	for i := range workers {
		w := &muxWorker{io: io, r: r, pfds: []unix.PollFd{{Fd: int32(wake), Events: unix.POLLIN}}}
		for k := i; k < n; k += workers {
			w.socks = append(w.socks, io.socks[k])
			w.pfds = append(w.pfds, unix.PollFd{Fd: int32(io.socks[k].fd), Events: unix.POLLIN})
		}
		io.workers = append(io.workers, w)
	}
	return io, addr, nil
}

// openMuxSocket opens one socket of the shared port: bound to addr with
// SO_REUSEPORT, its buffers sized. It is a plain descriptor outside Go's
// netpoller: a socket in the netpoller's (edge-triggered) epoll set wakes
// an idle runtime thread for every datagram that arrives while its worker
// sleeps — measured at 100 calls, ≈ 1,800 epoll wake-ups a second, more
// than the worker's own.
func openMuxSocket(addr netip.AddrPort) (*muxSocket, error) {
	family := unix.AF_INET
	var sa unix.Sockaddr = &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}
	if addr.Addr().Is6() {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(addr.Port()), Addr: addr.Addr().As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	if err == nil {
		// Past rmem_max when the process may (SO_RCVBUFFORCE), else up to it.
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, muxReadBuffer) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, muxReadBuffer)
		}
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 1<<20)
		if family == unix.AF_INET {
			// Don't fragment: an RTP packet is far below any path's MTU,
			// and a datagram without DF gets its IP ID from the kernel's
			// shared generator (__ip_select_ident: 8 % of the relay's CPU
			// at 100 calls over loopback, where DF is otherwise not set).
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO)
		}
		err = unix.Bind(fd, sa)
	}
	if err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	s := &muxSocket{fd: fd, v6: family == unix.AF_INET6, buf: make([]byte, muxBatch*maxPacket)}
	for i := range muxBatch {
		s.riov[i].Base = &s.buf[i*maxPacket]
		s.riov[i].SetLen(maxPacket)
		s.rmsgs[i].hdr.Name = (*byte)(unsafe.Pointer(&s.rname[i]))
		s.rmsgs[i].hdr.Iov = &s.riov[i]
		s.rmsgs[i].hdr.SetIovlen(1)
		s.smsgs[i].hdr.Name = (*byte)(unsafe.Pointer(&s.sname[i]))
		s.smsgs[i].hdr.Iov = &s.siov[i]
		s.smsgs[i].hdr.SetIovlen(1)
	}
	return s, nil
}

// muxDrain bounds how many full batches a worker reads from one socket
// in a row before it turns to its next socket.
const muxDrain = 8

// start starts the workers. A worker that paces sleeps in a raw
// clock_nanosleep and so keeps its P meanwhile (see muxSleep): GOMAXPROCS is
// raised by one for each, so the rest of the process keeps the Ps it had.
func (io *muxIO) start() {
	if io.workers[0].r.pace > 0 {
		io.raised = len(io.workers)
		addProcs(io.raised)
	}
	for _, w := range io.workers {
		io.wg.Add(1)
		go w.run()
	}
}

// close ends the workers (a worker waiting for packets at once, one asleep
// within Pace), then closes the sockets.
func (io *muxIO) close() error {
	io.closed.Store(true)
	if io.wake > 0 {
		one := [8]byte{1}
		_, _ = unix.Write(io.wake, one[:])
	}
	io.wg.Wait()
	if io.raised > 0 {
		addProcs(-io.raised)
		io.raised = 0
	}
	var errs []error
	for _, s := range io.socks {
		errs = append(errs, unix.Close(s.fd))
	}
	io.socks = nil
	if io.wake > 0 {
		_ = unix.Close(io.wake)
		io.wake = -1
	}
	return errors.Join(errs...)
}

// run is a worker: read every socket, route and send what came, sleep
// until Pace after the last wake, and so on until the relay closes. A
// round that read nothing at all waits in poll(2) for the next packet (or
// Close) instead: an idle relay does not wake.
//
// On this project's 2-core VM (a Firecracker guest) the wake-up is what a
// round costs most at low rates, so the worker sleeps in the kernel, not
// in the runtime. Measured, per wake-up every 2 ms: time.Sleep ≈ 70 µs of
// CPU (about four context switches: the timer fires on one thread, the
// runtime wakes another to spin; and it oversleeps to ≈ 2.6 ms, as Go's
// epoll wait counts whole milliseconds), clock_nanosleep through
// syscall.Syscall ≈ 60 µs (sysmon), and a raw clock_nanosleep ≈ 30 µs
// (one context switch). For the same reason one worker reads every
// socket by default: two workers pacing apart wake twice as often.
func (w *muxWorker) run() {
	defer w.io.wg.Done()
	r := w.r
	next := time.Since(r.epoch)
	for !w.io.closed.Load() {
		got, failed := 0, false
		for _, s := range w.socks {
			for range muxDrain {
				n, e := s.recvmmsg()
				if e != 0 {
					failed = failed || e != unix.EAGAIN
					break
				}
				got += n
				w.forward(s, n)
				if n < muxBatch {
					break
				}
			}
		}
		now := time.Since(r.epoch)
		switch {
		case got == 0 && failed:
			// An error the socket keeps returning must not spin the worker.
			muxSleep(max(r.pace, time.Millisecond))
			next = time.Since(r.epoch)
		case got == 0:
			w.await()
			next = time.Since(r.epoch)
		case r.pace > 0:
			// Wake Pace after the last wake, not after this round's work:
			// the rounds keep their rate whatever the work took. Behind
			// (the work took longer than Pace), read again at once.
			next += r.pace
			if next <= now {
				next = now
			} else {
				muxSleep(next - now)
			}
		}
	}
}

// forward routes the n datagrams s just read and sends them on.
func (w *muxWorker) forward(s *muxSocket, n int) {
	r := w.r
	now := int64(time.Since(r.epoch))
	s.nsend = 0
	r.mu.RLock()
	for i := range n {
		m := &s.rmsgs[i]
		if m.hdr.Flags&unix.MSG_TRUNC != 0 {
			r.malformed.Add(1)
			continue
		}
		pkt := s.buf[i*maxPacket : i*maxPacket+int(m.n)]
		out, to, from, ok := r.route(pkt, sockaddrPort(&s.rname[i]), now)
		if ok {
			s.queue(out, to, from)
		}
	}
	r.mu.RUnlock()
	if s.nsend > 0 {
		s.sendmmsg(&w.io.closed)
	}
}

// await blocks until one of the worker's sockets is readable or the relay
// closes. It is told to the runtime (unix.Poll): an idle relay's worker
// leaves its P to the rest of the process.
func (w *muxWorker) await() {
	for i := range w.pfds {
		w.pfds[i].Revents = 0
	}
	_, _ = unix.Poll(w.pfds, -1)
}

// muxSleep blocks the thread for d in clock_nanosleep, a raw syscall: the
// runtime does not know the worker waits, so it neither hands the P on
// nor wakes a thread for it (see run). A signal (the runtime's preemption
// requests among them) ends the sleep early; the worker then reads again.
func muxSleep(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	_, _, _ = unix.RawSyscall6(unix.SYS_CLOCK_NANOSLEEP, unix.CLOCK_MONOTONIC, 0, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
}

// recvmmsg reads up to a batch without blocking: the count, or the error
// (EAGAIN: nothing queued). Both batch calls are raw syscalls: they never
// block (MSG_DONTWAIT), and a syscall the runtime is told about that lasts
// more than 20 µs — a batch's does — makes sysmon hand the P to another
// thread: measured, sysmon and those hand-offs took more CPU than the
// packets.
func (s *muxSocket) recvmmsg() (int, syscall.Errno) {
	for i := range s.rmsgs {
		s.rmsgs[i].hdr.Namelen = unix.SizeofSockaddrInet6
		s.rmsgs[i].hdr.Flags = 0
	}
	for {
		n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.rmsgs[0])), muxBatch, unix.MSG_DONTWAIT, 0, 0)
		if e != unix.EINTR {
			return int(n), e
		}
	}
}

// sendWait bounds how long a worker waits, at most muxSendTries times for
// a batch, for room in a full send buffer before it drops the rest.
const (
	sendWait     = 10 // ms
	muxSendTries = 3
)

// sendmmsg sends the queued batch; a message the kernel refuses is
// counted and skipped. When the send buffer is full it waits for room
// (poll(2), at most muxSendTries × sendWait) and drops what still does not
// fit, counted as write errors: newer audio is coming.
func (s *muxSocket) sendmmsg(closed *atomic.Bool) {
	sent, tries := 0, 0
	for sent < s.nsend {
		n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.smsgs[sent])), uintptr(s.nsend-sent), unix.MSG_DONTWAIT, 0, 0)
		switch {
		case e == unix.EINTR:
		case e == unix.EAGAIN:
			if tries++; tries > muxSendTries || closed.Load() {
				for _, from := range s.sfrom[sent:s.nsend] {
					from.writeErrors.Add(1)
				}
				return
			}
			pfd := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLOUT}}
			_, _ = unix.Poll(pfd, sendWait)
		case e != 0 || n == 0:
			// sendmmsg reports an error on the first message it could not send.
			s.sfrom[sent].writeErrors.Add(1)
			sent++
		default:
			for _, from := range s.sfrom[sent : sent+int(n)] {
				from.forwarded.Add(1)
			}
			sent += int(n)
		}
	}
}

// queue adds b, to be sent to to, to the batch.
func (s *muxSocket) queue(b []byte, to netip.AddrPort, from *muxSide) {
	k := s.nsend
	s.siov[k].Base = &b[0]
	s.siov[k].SetLen(len(b))
	sa := &s.sname[k]
	port := to.Port()
	if s.v6 {
		*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: to.Addr().As16()}
		putPort(&sa.Port, port)
		s.smsgs[k].hdr.Namelen = unix.SizeofSockaddrInet6
	} else {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: to.Addr().As4()}
		putPort(&sa4.Port, port)
		s.smsgs[k].hdr.Namelen = unix.SizeofSockaddrInet4
	}
	s.sfrom[k] = from
	s.nsend++
}

// putPort stores port in network byte order, as sockaddr holds it.
func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// sockaddrPort reads the source address recvmmsg stored (IPv4-mapped
// addresses unmapped, as the routes hold them).
func sockaddrPort(sa *unix.RawSockaddrInet6) netip.AddrPort {
	b := (*[2]byte)(unsafe.Pointer(&sa.Port))
	port := uint16(b[0])<<8 | uint16(b[1])
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port)
	}
	return netip.AddrPort{}
}
