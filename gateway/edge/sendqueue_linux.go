package edge

import (
	"net"
	"syscall"
	"unsafe"
)

// sendQueueEmpty reports whether every byte written to c (a TCP connection, or TLS over
// one) has been sent and acknowledged: the kernel's send queue (SIOCOUTQ) is empty, so
// a small write fits in the socket buffer and returns at once. Any doubt is false.
func sendQueueEmpty(c net.Conn) bool {
	if tc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = tc.NetConn() // *tls.Conn
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var n int32
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&n)))
	}); err != nil || errno != 0 {
		return false
	}
	return n == 0
}
