package media

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The shared RTP poller's workers live as long as the process; start them
// before any test counts goroutines (checkGoroutines), so they are never
// taken for a leak of the first test that makes a Bridge.
func init() { _, _ = defaultPoller() }

func udpListen(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func udpAddr(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// seqPacket is a 172-byte PCMU packet of stream ssrc with sequence seq.
func seqPacket(ssrc uint32, seq uint16) []byte {
	pkt := make([]byte, fixedHeader+160)
	putHeader(pkt, false, 0, seq, uint32(seq)*160, ssrc)
	for i := range 160 {
		pkt[fixedHeader+i] = byte(seq) + byte(i)
	}
	return pkt
}

// TestPollerDeliversEveryPacketInOrder: many sockets over two workers, each
// fed bursts longer than one recvmmsg batch, so both the batch loop and the
// round-robin over workers are exercised; every socket's handler gets every
// packet, in order, from the right source, on one goroutine at a time.
func TestPollerDeliversEveryPacketInOrder(t *testing.T) {
	p, err := newRTPPoller(2)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	const sockets, bursts, burst = 24, 6, 3*pollBatch + 1
	type sink struct {
		mu      sync.Mutex
		busy    atomic.Bool
		seqs    []uint16
		from    netip.AddrPort
		bad     string
		payload bool
	}
	sinks := make([]*sink, sockets)
	senders := make([]*net.UDPConn, sockets)
	dests := make([]netip.AddrPort, sockets)
	regs := make([]*pollReg, sockets)
	for i := range sinks {
		s := &sink{}
		sinks[i] = s
		senders[i] = udpListen(t)
		s.from = udpAddr(senders[i])
		conn := udpListen(t)
		dests[i] = udpAddr(conn)
		if regs[i], err = p.add(conn, func(pkt []byte, src netip.AddrPort) {
			if s.busy.Swap(true) {
				s.bad = "handler ran on two goroutines at once"
			}
			defer s.busy.Store(false)
			s.mu.Lock()
			defer s.mu.Unlock()
			var w wire
			switch {
			case src != s.from:
				s.bad = "packet from " + src.String()
			case !parseRTP(pkt, &w) || w.end-w.payload != 160 || pkt[w.payload+5] != byte(w.seq)+5:
				s.bad = "packet mangled"
			}
			s.seqs = append(s.seqs, binary.BigEndian.Uint16(pkt[2:]))
		}); err != nil {
			t.Fatal(err)
		}
	}
	for b := range bursts {
		for i := range sockets {
			for k := range burst {
				if _, err := senders[i].WriteToUDPAddrPort(seqPacket(uint32(i), uint16(b*burst+k)), dests[i]); err != nil {
					t.Fatal(err)
				}
			}
		}
		// One burst at a time, so the receive buffers never overflow:
		// loopback then loses nothing and every packet must arrive.
		eventually(t, "every socket's burst to arrive", func() bool {
			for _, s := range sinks {
				s.mu.Lock()
				n := len(s.seqs)
				s.mu.Unlock()
				if n < (b+1)*burst {
					return false
				}
			}
			return true
		})
	}
	for i, s := range sinks {
		regs[i].remove()
		s.mu.Lock()
		if s.bad != "" {
			t.Errorf("socket %d: %s", i, s.bad)
		}
		for k, q := range s.seqs {
			if q != uint16(k) {
				t.Fatalf("socket %d: packet %d has sequence %d: lost or out of order", i, k, q)
			}
		}
		if len(s.seqs) != bursts*burst {
			t.Errorf("socket %d: %d packets, want %d", i, len(s.seqs), bursts*burst)
		}
		s.mu.Unlock()
	}
}

// TestPollerRemoveStopsHandler: once remove returns, the handler never
// runs again, though packets keep arriving on the (still open) socket,
// and the other sockets of the same worker go on.
func TestPollerRemoveStopsHandler(t *testing.T) {
	p, err := newRTPPoller(1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	src := udpListen(t)
	gone, live := udpListen(t), udpListen(t)
	var removed atomic.Bool
	var late, heard atomic.Int64
	rg, err := p.add(gone, func([]byte, netip.AddrPort) {
		if removed.Load() {
			late.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.add(live, func([]byte, netip.AddrPort) { heard.Add(1) }); err != nil {
		t.Fatal(err)
	}
	rg.remove()
	removed.Store(true)
	rg.remove() // twice is harmless
	for i := range 20 {
		_, _ = src.WriteToUDPAddrPort(seqPacket(1, uint16(i)), udpAddr(gone))
		_, _ = src.WriteToUDPAddrPort(seqPacket(2, uint16(i)), udpAddr(live))
	}
	eventually(t, "the live socket's 20 packets", func() bool { return heard.Load() == 20 })
	if n := late.Load(); n != 0 {
		t.Fatalf("the removed socket's handler ran %d times after remove", n)
	}
}

// TestPollerIPv6: a socket on ::1 is read through ipv6.PacketConn, and
// its packets carry their IPv6 source.
func TestPollerIPv6(t *testing.T) {
	conn, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	defer conn.Close()
	src, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	p, err := newRTPPoller(1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	got := make(chan netip.AddrPort, 1)
	r, err := p.add(conn, func(pkt []byte, from netip.AddrPort) {
		if len(pkt) == fixedHeader+160 {
			got <- from
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.remove()
	if _, err := src.WriteToUDPAddrPort(seqPacket(1, 1), udpAddr(conn)); err != nil {
		t.Fatal(err)
	}
	select {
	case from := <-got:
		if from != udpAddr(src) {
			t.Fatalf("packet from %v, want %v", from, udpAddr(src))
		}
	case <-time.After(waitLong):
		t.Fatal("gave up waiting for the packet on ::1")
	}
}
