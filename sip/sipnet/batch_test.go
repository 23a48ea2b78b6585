package sipnet

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

func listenUDP(t *testing.T, network, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Skipf("no %s socket on %s here: %v", network, addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.UDPConn)
}

// TestBatchConnReadsWhatTheSocketGot: datagrams queued before a read come out one a
// ReadFrom, each with its own bytes and its sender, in the order they were sent, more
// than one batch of them; fewer system calls than datagrams; a short buffer gets the
// datagram cut to it, as a UDP read does, and the next read the next datagram.
func TestBatchConnReadsWhatTheSocketGot(t *testing.T) {
	for _, tc := range []struct{ network, addr string }{{"udp4", "127.0.0.1:0"}, {"udp6", "[::1]:0"}} {
		t.Run(tc.network, func(t *testing.T) {
			srv := listenUDP(t, tc.network, tc.addr)
			b := NewBatchConn(srv, 4)
			a := listenUDP(t, tc.network, tc.addr)
			c := listenUDP(t, tc.network, tc.addr)
			// Loopback queues a datagram at the socket before sendto returns unless the
			// kernel defers its network softirq: a round in which every read found one
			// datagram alone is tried again, up to five rounds.
			const n = 11 // three batches of 4, the last one short
			var d0, c0 uint64
			for round := 1; ; round++ {
				sendAndRead(t, b, srv, a, c, n)
				datagrams, calls := b.Reads()
				if datagrams-d0 != n {
					t.Fatalf("round %d: %d datagrams read, want %d", round, datagrams-d0, n)
				}
				if calls-c0 < n {
					break
				}
				if round == 5 {
					t.Fatalf("%d rounds of %d datagrams, each read with a system call of its own", round, n)
				}
				d0, c0 = datagrams, calls
			}

			// A buffer shorter than the datagram: its start, as a UDP read gives it.
			for _, msg := range []string{"a longer datagram than the buffer", "next"} {
				if _, err := a.WriteTo([]byte(msg), srv.LocalAddr()); err != nil {
					t.Fatal(err)
				}
			}
			short := make([]byte, 8)
			for _, w := range []string{"a longer", "next"} {
				got, _, err := b.ReadFrom(short)
				if err != nil || string(short[:got]) != w {
					t.Fatalf("read %q, %v; want %q", short[:got], err, w)
				}
			}
		})
	}
}

// sendAndRead sends n datagrams to srv from a and c, then reads them through b, each
// with its own bytes and sender, in order.
func sendAndRead(t *testing.T, b *BatchConn, srv, a, c *net.UDPConn, n int) {
	t.Helper()
	var want, from []string
	for i := 0; i < n; i++ {
		s, msg := a, fmt.Sprintf("datagram %d %s", i, bytes.Repeat([]byte{'x'}, i*100))
		if i%3 == 1 {
			s = c
		}
		if _, err := s.WriteTo([]byte(msg), srv.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		want = append(want, msg)
		from = append(from, s.LocalAddr().String())
	}
	if err := b.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for i := 0; i < n; i++ {
		got, addr, err := b.ReadFrom(buf)
		if err != nil {
			t.Fatalf("datagram %d of %d (waited up to 10 s for it): %v", i, n, err)
		}
		if string(buf[:got]) != want[i] {
			t.Fatalf("datagram %d: got %q, want %q", i, buf[:got], want[i])
		}
		if ua, ok := addr.(*net.UDPAddr); !ok || ua.String() != from[i] {
			t.Fatalf("datagram %d: from %v (%T), want %s", i, addr, addr, from[i])
		}
	}
}

// TestBatchConnWaitsLikeTheSocket: with nothing queued a read waits for the next
// datagram; it keeps the socket's read deadline and, once the socket is closed, ends
// with net.ErrClosed, which is how sipgo's read loop knows to stop.
func TestBatchConnWaitsLikeTheSocket(t *testing.T) {
	srv := listenUDP(t, "udp4", "127.0.0.1:0")
	b := NewBatchConn(srv, 0)
	a := listenUDP(t, "udp4", "127.0.0.1:0")

	if err := b.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.ReadFrom(make([]byte, 100)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with nothing sent before the deadline: %v, want a deadline error", err)
	}

	if err := b.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	type result struct {
		data string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		buf := make([]byte, 100)
		n, _, err := b.ReadFrom(buf)
		got <- result{string(buf[:n]), err}
	}()
	time.Sleep(20 * time.Millisecond) // most likely waiting by now; either way it must get it
	if _, err := a.WriteTo([]byte("late"), srv.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r.err != nil || r.data != "late" {
		t.Fatalf("waiting read got %q, %v (within its 10 s deadline)", r.data, r.err)
	}

	go func() {
		_, _, err := b.ReadFrom(make([]byte, 100))
		got <- result{err: err}
	}()
	time.Sleep(20 * time.Millisecond)
	b.Close()
	select {
	case r := <-got:
		if !errors.Is(r.err, net.ErrClosed) {
			t.Fatalf("read on a closed socket: %v, want net.ErrClosed", r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a read still waiting 10 s after the socket was closed")
	}
}

// BenchmarkReadQueued is the cost of reading datagrams that queued at a socket while
// its reader was busy, 16 at a time (each op sends and reads 16 of a park cycle's
// size): the socket's own ReadFrom, one recvfrom each, against BatchConn's.
func BenchmarkReadQueued(b *testing.B) {
	msg := bytes.Repeat([]byte{'x'}, 900)
	for _, name := range []string{"socket", "batch"} {
		b.Run(name, func(b *testing.B) {
			var socks [2]*net.UDPConn
			for i := range socks {
				c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				socks[i] = c
			}
			srv, src := socks[0], socks[1]
			var r net.PacketConn = srv
			if name == "batch" {
				r = NewBatchConn(srv, 0)
			}
			buf := make([]byte, 2048)
			cpu0 := processCPU()
			for b.Loop() {
				for i := 0; i < 16; i++ {
					if _, err := src.WriteTo(msg, srv.LocalAddr()); err != nil {
						b.Fatal(err)
					}
				}
				for i := 0; i < 16; i++ {
					if _, _, err := r.ReadFrom(buf); err != nil {
						b.Fatal(err)
					}
				}
			}
			// CPU time, not wall time: on a shared machine the wall clock measures the
			// neighbours.
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N)/16, "cpu-ns/datagram")
		})
	}
}

// processCPU is this process's user+system CPU time so far, in ns.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
