package sipnet

import (
	"net"
	"sync"
	"sync/atomic"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// DefaultBatch is how many queued datagrams a BatchConn takes with one system call.
const DefaultBatch = 16

// maxDatagram is the largest UDP payload: each slot of a batch holds one whole, as
// sipgo's own read buffer does. Only the bytes a datagram fills are ever touched.
const maxDatagram = 65535

// BatchConn is a UDP socket whose ReadFrom takes every datagram already queued at the
// socket, up to its batch size, with one system call (golang.org/x/net's ReadBatch:
// recvmmsg on Linux, one recvmsg a call elsewhere) and hands them out one a call, in
// the order the kernel queued them. What a reader sees is what ReadFrom on the socket
// would give it — the same bytes (cut to b, as a UDP read is), the same source address,
// the same errors, deadlines included; only the system calls are fewer when datagrams
// queue, which is when the reader is behind (issue #12: a park cycle is ≈ 50 datagrams
// read, each a recvfrom). When nothing is queued it waits for the next datagram as
// ReadFrom does. Everything else, writes included, is the socket's own.
//
// Its ReadFrom is for one reading goroutine at a time (a second one waits): sipgo reads
// a listening socket from one loop.
type BatchConn struct {
	*net.UDPConn
	reader interface {
		ReadBatch(ms []ipv4.Message, flags int) (int, error)
	}

	mu   sync.Mutex
	msgs []ipv4.Message // ipv4.Message and ipv6.Message are the same type
	next int            // the next of msgs[:got] to hand out
	got  int

	calls, datagrams atomic.Uint64
}

// NewBatchConn reads c in batches of up to n datagrams (DefaultBatch when n < 1).
func NewBatchConn(c *net.UDPConn, n int) *BatchConn {
	if n < 1 {
		n = DefaultBatch
	}
	b := &BatchConn{UDPConn: c, msgs: make([]ipv4.Message, n)}
	for i := range b.msgs {
		b.msgs[i].Buffers = [][]byte{make([]byte, maxDatagram)}
	}
	if la, ok := c.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() != nil {
		b.reader = ipv4.NewPacketConn(c)
	} else {
		b.reader = ipv6.NewPacketConn(c)
	}
	return b
}

// ReadFrom is net.PacketConn's: the next datagram, from the batch last read or, when
// that is handed out, from a new one.
func (b *BatchConn) ReadFrom(p []byte) (int, net.Addr, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.next >= b.got {
		b.next, b.got = 0, 0
		n, err := b.reader.ReadBatch(b.msgs, 0)
		b.calls.Add(1)
		if err != nil {
			return 0, nil, err
		}
		b.got = n
		b.datagrams.Add(uint64(n))
	}
	m := &b.msgs[b.next]
	b.next++
	return copy(p, m.Buffers[0][:m.N]), m.Addr, nil
}

// Reads is how many datagrams ReadFrom has taken from the socket so far, and with how
// many system calls.
func (b *BatchConn) Reads() (datagrams, calls uint64) {
	return b.datagrams.Load(), b.calls.Load()
}
