package rtpload

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batch is how many datagrams one sendmmsg or recvmmsg carries.
const batch = 64

// mmsghdr is struct mmsghdr (sendmmsg(2), recvmmsg(2)).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// sendMsg is a party's message, built once: its packet buffer, where it
// goes, and an IP_PKTINFO control message that sets its source address —
// so one socket sends for every party, each from its own address.
type sendMsg struct {
	hdr mmsghdr
	sa  unix.RawSockaddrInet4
	iov unix.Iovec
	ctl [sendCtlWords]uint64 // uint64s: a cmsghdr is 8-byte aligned
}

var sendCtlLen = unix.CmsgSpace(unix.SizeofInet4Pktinfo)

const sendCtlWords = 4 // CmsgSpace(12) = 32 bytes on 64-bit Linux

func (m *sendMsg) build(p *party) {
	m.sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: p.to.Addr().As4()}
	port := (*[2]byte)(unsafe.Pointer(&m.sa.Port))
	port[0], port[1] = byte(p.to.Port()>>8), byte(p.to.Port())
	m.iov.Base = &p.buf[0]
	m.iov.SetLen(packetLen)
	ctl := unsafe.Slice((*byte)(unsafe.Pointer(&m.ctl[0])), len(m.ctl)*8)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&ctl[0]))
	h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
	info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&ctl[unix.CmsgLen(0)]))
	*info = unix.Inet4Pktinfo{Spec_dst: p.addr.Addr().As4()}
	m.hdr = mmsghdr{hdr: unix.Msghdr{
		Name: (*byte)(unsafe.Pointer(&m.sa)), Namelen: unix.SizeofSockaddrInet4,
		Iov: &m.iov, Control: &ctl[0],
	}}
	m.hdr.hdr.SetIovlen(1)
	m.hdr.hdr.SetControllen(sendCtlLen)
}

// loadIO is the load generator's sockets: Workers sockets on one port of
// every party address (bound to 0.0.0.0 on the loopback device only,
// SO_REUSEPORT), each with a paced send loop and a receive loop.
//
// The sockets are plain blocking descriptors, outside Go's netpoller: a
// socket in the netpoller's epoll set wakes an idle runtime thread for
// every datagram that arrives while its reader sleeps between batches —
// measured, epoll_wait then took a quarter of the generator's CPU. The
// loops wait in poll(2) and clock_nanosleep instead, on threads of their
// own.
type loadIO struct {
	r      *run
	socks  []*loadSocket
	wg     sync.WaitGroup // every loop
	sendWG sync.WaitGroup // the send loops
	done   atomic.Bool    // set by stop: the send loops end, the receive loops drain and end
}

type loadSocket struct {
	fd   int
	send sender
	recv receiver
}

// recvBuffer is each socket's receive buffer: the receive loop reads
// every ReceivePace, and a loop a loaded machine keeps waiting must not
// lose what arrives meanwhile (16 MiB ≈ 20,000 packets, 200 ms of 1,000
// calls on one socket). Above rmem_max it takes CAP_NET_ADMIN.
const recvBuffer = 16 << 20

// pollTimeout bounds a loop's wait for its socket, so it sees stop; and
// since the wait holds the loop's P, it bounds how long a garbage
// collection's stop-the-world waits for the loop.
const pollTimeout = 5 // ms

func openSockets(r *run, n int) (*loadIO, uint16, error) {
	io := &loadIO{r: r}
	var port int
	for range n {
		fd, err := openSocket(port)
		if err != nil {
			io.close()
			return nil, 0, fmt.Errorf("rtpload: socket on lo, port %d: %w", port, err)
		}
		s := &loadSocket{fd: fd}
		io.socks = append(io.socks, s)
		if port == 0 {
			sa, err := unix.Getsockname(fd)
			if err != nil {
				io.close()
				return nil, 0, fmt.Errorf("rtpload: getsockname: %w", err)
			}
			port = sa.(*unix.SockaddrInet4).Port
		}
		s.send.init(r, s, io)
		s.recv.init(r, s, io)
	}
	return io, uint16(port), nil
}

// openSocket opens one UDP socket bound to 0.0.0.0:port (0: the kernel
// chooses) on the loopback device.
func openSocket(port int) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	err = errors.Join(
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1),
		// Only loopback traffic reaches these sockets, and they can send
		// nowhere else.
		unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, "lo"),
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1),     // each datagram's destination: which party got it
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1), // its arrival time, taken by the kernel
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1),    // what the socket dropped
	)
	if err == nil {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, recvBuffer) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, recvBuffer)
		}
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
		err = unix.Bind(fd, &unix.SockaddrInet4{Port: port})
	}
	if err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// start hands the parties to the send loops (party i to loop i mod
// Workers, so each loop's phases spread over the interval) and starts
// every loop.
func (io *loadIO) start() {
	for i, p := range io.r.parties {
		s := &io.socks[i%len(io.socks)].send
		s.parties = append(s.parties, partyRef{p, i})
	}
	for _, s := range io.socks {
		io.wg.Add(2)
		io.sendWG.Add(1)
		go func() {
			defer io.wg.Done()
			defer io.sendWG.Done()
			s.send.loop()
		}()
		go func() {
			defer io.wg.Done()
			s.recv.loop()
		}()
	}
}

// stop ends the send loops, then the receive loops once they have read
// what their sockets hold, and waits for all of them.
func (io *loadIO) stop() {
	io.done.Store(true)
	io.wg.Wait()
}

// close closes the sockets; the loops have ended (stop) or never started.
func (io *loadIO) close() {
	for _, s := range io.socks {
		_ = unix.Close(s.fd)
	}
	io.socks = nil
}

// awaitReady blocks in poll(2) until fd is ready for events or pollTimeout
// passes.
func awaitReady(fd int, events int16) {
	fds := [1]unix.PollFd{{Fd: int32(fd), Events: events}}
	_, _, _ = unix.RawSyscall(unix.SYS_POLL, uintptr(unsafe.Pointer(&fds[0])), 1, pollTimeout)
}

// sleep blocks the thread for d in clock_nanosleep.
//
// Both waits are raw syscalls: the runtime does not hand the loop's P on
// while it waits (the loops run with GOMAXPROCS raised to leave Ps for
// everything else; see Run). Told of each wait, sysmon took the P away
// every time and then polled every 20 µs — at real-time priority, ten
// times the CPU the loops themselves use.
func sleep(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	for {
		_, _, e := unix.RawSyscall6(unix.SYS_CLOCK_NANOSLEEP, unix.CLOCK_MONOTONIC, 0, uintptr(unsafe.Pointer(&ts)), uintptr(unsafe.Pointer(&ts)), 0, 0)
		if e != unix.EINTR {
			return
		}
	}
}

type partyRef struct {
	p     *party
	index int
}

// sender is one paced send loop: it wakes every SendTick, sends every
// packet of its parties now due in batches of one sendmmsg each, and
// records how late each left.
type sender struct {
	r       *run
	s       *loadSocket
	io      *loadIO
	parties []partyRef // by phase
	msgs    [batch]mmsghdr
	due     [batch]time.Duration
	n, sent int
}

func (s *sender) init(r *run, sock *loadSocket, io *loadIO) {
	s.r, s.s, s.io = r, sock, io
}

func (s *sender) loop() {
	r := s.r
	if len(s.parties) == 0 {
		return
	}
	// The loop sleeps in clock_nanosleep on a thread of its own: the
	// kernel wakes it on time, where Go's timers wake a goroutine through
	// the runtime's other threads (measured on the loaded 2-core VM at
	// real-time priority: time.Sleep(1 ms) overslept 11 ms at p99,
	// clock_nanosleep 0.5 ms).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	iv := r.cfg.Interval
	next, round := 0, time.Duration(0)
	for !r.overrun.Load() {
		now := time.Since(r.start)
		for {
			pr := s.parties[next]
			due := round*iv + pr.p.phase
			if due > now {
				break
			}
			if due >= time.Duration(r.sendLimit.Load()) {
				s.flush()
				return
			}
			s.due[s.n] = r.stamp(pr.p, pr.index)
			s.msgs[s.n] = pr.p.out.hdr
			s.n++
			if s.n == batch {
				s.flush()
			}
			if next++; next == len(s.parties) {
				// A party's next packet overwrites its buffer: the batch
				// must be on its way first.
				s.flush()
				next, round = 0, round+1
			}
		}
		s.flush()
		if s.io.done.Load() {
			return
		}
		sleep(max(round*iv+s.parties[next].p.phase-time.Since(r.start), r.cfg.SendTick))
	}
}

// realtime gives every thread of the process the highest normal priority
// (nice −20; it needs CAP_SYS_NICE) and, with two CPUs or more, confines
// them to one CPU (the last the process may use); the threads the Go
// runtime starts later inherit both from the thread that creates them. Two
// passes catch a thread started during the first.
//
// Not a real-time policy: under SCHED_FIFO (what it used before) a Go
// process can livelock — a runtime thread busy-waiting for another of the
// process's threads keeps its CPU, since FIFO never preempts the same
// priority, and the other never runs; signals then go unhandled too.
// Measured: at 100 calls pinned to one CPU, and at 1,500 on two CPUs,
// where it held the plain forwarder under test at 0.3 % of a CPU and
// ignored SIGTERM. nice −20 still puts the load ahead of the machine's
// other work (a weight of 88,761 against 1,024), and the one CPU leaves the
// relay under test the others whatever the load does.
func realtime() error {
	var allowed, one unix.CPUSet
	pin := false
	if err := unix.SchedGetaffinity(0, &allowed); err == nil && allowed.Count() >= 2 {
		for cpu := len(allowed) * 64; cpu >= 0; cpu-- {
			if allowed.IsSet(cpu) {
				one.Set(cpu)
				pin = true
				break
			}
		}
	}
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("rtpload: high priority: %w", err)
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if pin {
				if err := unix.SchedSetaffinity(tid, &one); err != nil && !errors.Is(err, unix.ESRCH) {
					return fmt.Errorf("rtpload: load on one CPU: %w", err)
				}
			}
			if err := unix.Setpriority(unix.PRIO_PROCESS, tid, -20); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("rtpload: high priority (nice -20 needs CAP_SYS_NICE): %w", err)
			}
		}
	}
	return nil
}

// flush sends the batch and records each packet's lateness at sending.
func (s *sender) flush() {
	if s.n == 0 {
		return
	}
	s.sent = 0
	for !s.sendmmsg() {
		if s.io.done.Load() {
			s.r.sendErr.Add(int64(s.n - s.sent))
			break
		}
		awaitReady(s.s.fd, unix.POLLOUT)
	}
	now := time.Since(s.r.start)
	if s.sent > 0 && now-s.due[0] > s.r.cfg.MaxSendLag {
		s.r.overrun.Store(true)
	}
	var inWindow int64
	for _, due := range s.due[:s.sent] {
		s.r.lag.add(now - due)
		if s.r.inWindow(due) {
			inWindow++
		}
	}
	s.r.sent.Add(inWindow)
	s.n = 0
}

// sendmmsg sends the batch (a raw syscall: it never blocks, and the
// runtime need not hand its P on); false when the socket's send buffer is
// full. A message the kernel refuses is counted and skipped.
func (s *sender) sendmmsg() bool {
	for s.sent < s.n {
		n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(s.s.fd), uintptr(unsafe.Pointer(&s.msgs[s.sent])), uintptr(s.n-s.sent), unix.MSG_DONTWAIT, 0, 0)
		switch {
		case e == unix.EINTR:
		case e == unix.EAGAIN:
			return false
		case e != 0 || n == 0:
			s.r.sendErr.Add(1)
			copy(s.due[s.sent:], s.due[s.sent+1:s.n]) // not sent: no lag, not counted
			copy(s.msgs[s.sent:], s.msgs[s.sent+1:s.n])
			s.n--
		default:
			s.sent += int(n)
		}
	}
	return true
}

// recvCtlWords is a received datagram's control space in uint64s: its
// arrival time, its destination and the socket's drop count need
// CmsgSpace(16) + CmsgSpace(12) + CmsgSpace(4) = 88 bytes on 64-bit Linux.
const recvCtlWords = 16

// receiver is one socket's receive loop: recvmmsg batches, and a pause
// after a batch that was not full.
type receiver struct {
	r     *run
	s     *loadSocket
	io    *loadIO
	buf   []byte
	iov   [batch]unix.Iovec
	ctl   []uint64
	msgs  [batch]mmsghdr
	rn    int
	rerr  syscall.Errno
	drops uint32 // the socket's drop counter when last seen
	c     counts
}

const slot = 2048 // bytes per received datagram; longer ones are truncated (and not ours)

func (v *receiver) init(r *run, sock *loadSocket, io *loadIO) {
	v.r, v.s, v.io = r, sock, io
	v.buf = make([]byte, batch*slot)
	v.ctl = make([]uint64, batch*recvCtlWords)
	for i := range batch {
		v.iov[i].Base = &v.buf[i*slot]
		v.iov[i].SetLen(slot)
		v.msgs[i].hdr.Iov = &v.iov[i]
		v.msgs[i].hdr.SetIovlen(1)
		v.msgs[i].hdr.Control = (*byte)(unsafe.Pointer(&v.ctl[i*recvCtlWords]))
	}
}

func (v *receiver) loop() {
	runtime.LockOSThread() // it blocks in poll and nanosleep
	defer runtime.UnlockOSThread()
	for {
		stopping := v.io.done.Load() // read after stop: drain, then end
		if !v.recvmmsg() {
			if stopping {
				return
			}
			awaitReady(v.s.fd, unix.POLLIN)
			continue
		}
		if v.rerr != 0 {
			// An error the socket keeps returning must not spin the loop.
			if stopping {
				return
			}
			sleep(v.r.cfg.ReceivePace)
			continue
		}
		v.handle()
		if v.rn < batch && !stopping {
			sleep(v.r.cfg.ReceivePace)
		}
	}
}

// recvmmsg reads up to a batch without blocking; false when nothing is
// queued.
func (v *receiver) recvmmsg() bool {
	for i := range v.msgs {
		v.msgs[i].hdr.SetControllen(recvCtlWords * 8)
		v.msgs[i].hdr.Flags = 0
	}
	for {
		n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(v.s.fd), uintptr(unsafe.Pointer(&v.msgs[0])), batch, unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			v.rn, v.rerr = 0, 0
			return false
		case 0:
			v.rn, v.rerr = int(n), 0
		default:
			v.rn, v.rerr = 0, e
		}
		return true
	}
}

// handle records the batch just read.
func (v *receiver) handle() {
	var fallback int64
	for i := range v.rn {
		m := &v.msgs[i]
		if m.hdr.Flags&unix.MSG_TRUNC != 0 {
			v.c.bad++
			continue
		}
		at, dst, drops, ok := v.control(i, int(m.hdr.Controllen))
		if !ok {
			v.c.bad++
			continue
		}
		if at == 0 { // no kernel time stamp: now is later than the truth
			if fallback == 0 {
				fallback = time.Now().UnixNano()
			}
			at = fallback
		}
		if drops != v.drops {
			v.r.drops.Add(int64(drops - v.drops))
			v.drops = drops
		}
		v.r.arrived(v.buf[i*slot:i*slot+int(m.n)], dst, at, &v.c)
	}
	v.r.add(&v.c)
}

// control reads datagram i's control messages: the kernel's arrival time
// (Unix ns; 0 when missing), the destination address, and the socket's
// drop count. ok is false without a destination.
func (v *receiver) control(i, n int) (at int64, dst netip.Addr, drops uint32, ok bool) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(&v.ctl[i*recvCtlWords])), recvCtlWords*8)[:min(n, recvCtlWords*8)]
	drops = v.drops
	for off := 0; off+unix.SizeofCmsghdr <= len(b); {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[off]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || off+l > len(b) {
			break
		}
		data := b[off+unix.CmsgLen(0) : off+l]
		switch {
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(unix.Timespec{})):
			at = (*unix.Timespec)(unsafe.Pointer(&data[0])).Nano()
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			dst, ok = netip.AddrFrom4((*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0])).Addr), true
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && len(data) >= 4:
			drops = *(*uint32)(unsafe.Pointer(&data[0]))
		}
		off += unix.CmsgSpace(l - unix.CmsgLen(0))
	}
	return at, dst, drops, ok
}
