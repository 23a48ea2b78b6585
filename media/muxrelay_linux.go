package media

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// muxIO is a MuxRelay's sockets, all bound to one port with
// SO_REUSEPORT, and a worker goroutine for each.
type muxIO struct {
	socks  []*muxSocket
	closed atomic.Bool
	wg     sync.WaitGroup
}

// mmsghdr is struct mmsghdr (recvmmsg(2), sendmmsg(2)); Go pads it as C
// does.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// muxSocket is one socket of the shared port and its worker's state: the
// receive and send vectors are built once, so a packet costs no
// allocation.
type muxSocket struct {
	r    *MuxRelay
	io   *muxIO
	conn *net.UDPConn
	rc   syscall.RawConn
	v6   bool

	buf   []byte // muxBatch × maxPacket
	rname [muxBatch]unix.RawSockaddrInet6
	riov  [muxBatch]unix.Iovec
	rmsgs [muxBatch]mmsghdr
	rn    int
	rerr  syscall.Errno

	sname [muxBatch]unix.RawSockaddrInet6
	siov  [muxBatch]unix.Iovec
	smsgs [muxBatch]mmsghdr
	sfrom [muxBatch]*muxSide
	nsend int
	sent  int

	readFn, writeFn func(fd uintptr) bool
}

// muxReadBuffer is the receive buffer each shared socket asks for: one
// socket carries many calls, and a worker that a loaded machine keeps from
// running must not lose what arrives meanwhile (measured at load 30 on 2
// cores: 4 MiB — net.core.rmem_max here — overflowed at 500 calls, where
// a socket per call has 500 default buffers). 16 MiB holds ≈ 300 ms of
// 500 calls; older audio is of no use to anyone. Above rmem_max it takes
// CAP_NET_ADMIN (SO_RCVBUFFORCE); without, the kernel's cap applies.
const muxReadBuffer = 16 << 20

func listenMux(r *MuxRelay, addr netip.AddrPort, n int) (*muxIO, netip.AddrPort, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		return errors.Join(err, serr)
	}}
	io := &muxIO{}
	for i := range n {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr.String())
		if err != nil {
			_ = io.close()
			return nil, addr, fmt.Errorf("media: mux relay listen %v: %w", addr, err)
		}
		conn := pc.(*net.UDPConn)
		if i == 0 {
			// The others join the port the kernel chose.
			addr = conn.LocalAddr().(*net.UDPAddr).AddrPort()
			addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
		}
		setReadBuffer(conn, muxReadBuffer)
		_ = conn.SetWriteBuffer(1 << 20)
		s, err := newMuxSocket(r, io, conn, addr.Addr().Is6())
		if err != nil {
			_ = conn.Close()
			_ = io.close()
			return nil, addr, err
		}
		io.socks = append(io.socks, s)
	}
	return io, addr, nil
}

// setReadBuffer asks for n bytes of receive buffer, past rmem_max when the
// process may (SO_RCVBUFFORCE), else up to it.
func setReadBuffer(conn *net.UDPConn, n int) {
	rc, err := conn.SyscallConn()
	if err == nil {
		forced := false
		_ = rc.Control(func(fd uintptr) {
			forced = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n) == nil
		})
		if forced {
			return
		}
	}
	_ = conn.SetReadBuffer(n)
}

func newMuxSocket(r *MuxRelay, io *muxIO, conn *net.UDPConn, v6 bool) (*muxSocket, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("media: mux relay: %w", err)
	}
	s := &muxSocket{r: r, io: io, conn: conn, rc: rc, v6: v6, buf: make([]byte, muxBatch*maxPacket)}
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
	s.readFn, s.writeFn = s.recvmmsg, s.sendmmsg
	return s, nil
}

func (io *muxIO) start() {
	for _, s := range io.socks {
		io.wg.Add(1)
		go s.run()
	}
}

func (io *muxIO) close() error {
	io.closed.Store(true)
	var errs []error
	for _, s := range io.socks {
		errs = append(errs, s.conn.Close())
	}
	io.wg.Wait()
	return errors.Join(errs...)
}

// run reads a batch, routes it, sends it, and waits Pace when the batch
// was not full, until the socket closes.
func (s *muxSocket) run() {
	defer s.io.wg.Done()
	r := s.r
	for {
		// Read waits in the netpoller only when nothing is queued.
		err := s.rc.Read(s.readFn)
		if s.io.closed.Load() {
			return
		}
		if err != nil || s.rerr != 0 {
			// An error the socket keeps returning must not spin the worker.
			time.Sleep(max(r.pace, time.Millisecond))
			continue
		}
		n := s.rn
		now := int64(time.Since(r.epoch))
		s.nsend, s.sent = 0, 0
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
			_ = s.rc.Write(s.writeFn)
		}
		if n < muxBatch && r.pace > 0 {
			time.Sleep(r.pace)
		}
	}
}

// recvmmsg reads up to a batch without blocking; false (wait for
// readability) when nothing is queued. Both batch calls are raw syscalls:
// they never block (MSG_DONTWAIT), and a syscall the runtime is told about
// that lasts more than 20 µs — a batch's does — makes sysmon hand the P to
// another thread: measured, sysmon and those hand-offs took more CPU than
// the packets.
func (s *muxSocket) recvmmsg(fd uintptr) bool {
	for i := range s.rmsgs {
		s.rmsgs[i].hdr.Namelen = unix.SizeofSockaddrInet6
		s.rmsgs[i].hdr.Flags = 0
	}
	for {
		n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&s.rmsgs[0])), muxBatch, unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		case 0:
			s.rn, s.rerr = int(n), 0
		default:
			s.rn, s.rerr = 0, e
		}
		return true
	}
}

// sendmmsg sends the queued batch; a message the kernel refuses is
// counted and skipped, and false (wait for writability) when the send
// buffer is full.
func (s *muxSocket) sendmmsg(fd uintptr) bool {
	for s.sent < s.nsend {
		n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.smsgs[s.sent])), uintptr(s.nsend-s.sent), unix.MSG_DONTWAIT, 0, 0)
		switch {
		case e == unix.EINTR:
		case e == unix.EAGAIN:
			return false
		case e != 0 || n == 0:
			// sendmmsg reports an error on the first message it could not send.
			s.sfrom[s.sent].writeErrors.Add(1)
			s.sent++
		default:
			for _, from := range s.sfrom[s.sent : s.sent+int(n)] {
				from.forwarded.Add(1)
			}
			s.sent += int(n)
		}
	}
	return true
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
