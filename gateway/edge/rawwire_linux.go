package edge

import (
	"net"
	"syscall"
	"unsafe"
)

// rawWire writes a fan-out's frames on a plain TCP connection with the send system
// call made directly (syscall.RawSyscall), not through net.Conn.Write.
//
// Why (BenchmarkFanout's profile, 10,000 clients, 2 cores): a fan-out worker does
// nothing but writes, each ≈ 13 µs in the kernel. net.Conn.Write enters each as a
// blocking system call (entersyscall/exitsyscall), so the runtime's sysmon sees the
// worker's P in a system call, retakes it and hands it to another thread every few
// writes; sysmon itself then stays at its 20 µs wake-up: ≈ 10 % of the gateway's CPU
// per fan-out beside the workers' own. The socket is non-blocking, so the call never
// blocks and the runtime need not know of it.
//
// It stays inside net's write right: the call runs in syscall.RawConn.Write, which holds
// the connection's write lock (the one coder/websocket's own Writes take, so frames are
// never interleaved; see wire.go) and, when the socket is full (EAGAIN), waits on the
// netpoller for room with the lock held, as net.Conn.Write does. A closed connection
// fails the wait, so the write watchdog's CloseNow ends a stuck write as before.
type rawWire struct {
	rc syscall.RawConn
	// b is what is left to send and err the send's error, for sendFD; used only under
	// the session's write right (outbox.wmu), like the write itself.
	b   []byte
	err error
	fn  func(fd uintptr) bool // sendFD, bound once: a write allocates nothing
}

// newRawWire returns c's raw writer, or nil when c is not a plain TCP connection (TLS
// writes through its own Write).
func newRawWire(c net.Conn) *rawWire {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &rawWire{rc: rc}
	w.fn = w.sendFD
	return w
}

// write sends all of b, waiting for room when the socket is full.
func (w *rawWire) write(b []byte) error {
	w.b, w.err = b, nil
	err := w.rc.Write(w.fn)
	w.b = nil
	if err != nil {
		return err
	}
	return w.err
}

// sendFD sends what is left of w.b on fd; false asks RawConn.Write to wait for room.
// MSG_NOSIGNAL: a peer that has gone is an EPIPE error, not a SIGPIPE.
func (w *rawWire) sendFD(fd uintptr) bool {
	for len(w.b) > 0 {
		n, _, errno := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&w.b[0])), uintptr(len(w.b)),
			syscall.MSG_NOSIGNAL|syscall.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			w.b = w.b[n:]
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			w.err = errno
			return true
		}
	}
	return true
}
