package media

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// relayEnd is a test peer of a Relay: its socket and what it got.
type relayEnd struct {
	conn *net.UDPConn
	mu   sync.Mutex
	got  []wireCopy
}

type wireCopy struct {
	wire
	payload []byte
	src     netip.AddrPort
}

func newRelayEnd(t *testing.T) *relayEnd {
	e := &relayEnd{conn: udpListen(t)}
	go func() {
		buf := make([]byte, maxPacket)
		for {
			n, src, err := e.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			var w wire
			if !parseRTP(buf[:n], &w) {
				continue
			}
			e.mu.Lock()
			e.got = append(e.got, wireCopy{wire: w, payload: append([]byte(nil), buf[w.payload:w.end]...), src: src})
			e.mu.Unlock()
		}
	}()
	return e
}

func (e *relayEnd) packets() []wireCopy {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]wireCopy(nil), e.got...)
}

// sendBurst sends n packets of stream ssrc from seq0 on, waiting for each
// burst of 16 to arrive at to, so loopback never overflows a buffer.
func (e *relayEnd) sendBurst(t *testing.T, via netip.AddrPort, ssrc uint32, seq0 uint16, n int, to *relayEnd) {
	t.Helper()
	for i := 0; i < n; {
		before := len(to.packets())
		k := min(16, n-i)
		for j := range k {
			pkt := seqPacket(ssrc, seq0+uint16(i+j))
			binary.BigEndian.PutUint32(pkt[4:], uint32(1000+i+j)*160) // runs on when seq wraps
			if _, err := e.conn.WriteToUDPAddrPort(pkt, via); err != nil {
				t.Fatal(err)
			}
		}
		i += k
		eventually(t, fmt.Sprintf("%d relayed packets", before+k), func() bool { return len(to.packets()) >= before+k })
	}
}

// checkRelayed fails unless got is one stream: one SSRC (not the
// sender's), sequence +1 and timestamp +160 from packet to packet, the
// payloads of sequences seqs in order, from the relay's side address.
func checkRelayed(t *testing.T, got []wireCopy, from netip.AddrPort, seqs []uint16, senderSSRC uint32) {
	t.Helper()
	if len(got) != len(seqs) {
		t.Fatalf("%d packets relayed, want %d", len(got), len(seqs))
	}
	for i, p := range got {
		if p.src != from {
			t.Fatalf("packet %d came from %v, want the relay's %v (symmetric RTP)", i, p.src, from)
		}
		if p.ssrc != got[0].ssrc || p.ssrc == senderSSRC {
			t.Fatalf("packet %d: SSRC %#x (first %#x, sender's %#x): want one SSRC of the relay's", i, p.ssrc, got[0].ssrc, senderSSRC)
		}
		if want := seqPacket(0, seqs[i])[fixedHeader:]; string(p.payload) != string(want) {
			t.Fatalf("packet %d: payload of another packet (want the one sent as sequence %d)", i, seqs[i])
		}
		if i == 0 {
			continue
		}
		if d := p.seq - got[i-1].seq; d != 1 {
			t.Fatalf("packet %d: sequence %d after %d", i, p.seq, got[i-1].seq)
		}
		if dts := p.ts - got[i-1].ts; int32(dts) < 160 {
			t.Fatalf("packet %d: timestamp step %d", i, int32(dts))
		}
	}
}

// TestRelayForwardsBothWaysInOrder runs a call through a Relay, with the
// shared poller and with a goroutine per socket: every packet arrives, in
// order, as one continuous stream per direction, also across a change of
// the sender's stream (a new SSRC and sequence, as after a transfer); a
// spoofed source is dropped and counted.
func TestRelayForwardsBothWaysInOrder(t *testing.T) {
	for _, goroutines := range []bool{false, true} {
		t.Run(fmt.Sprintf("goroutines=%v", goroutines), func(t *testing.T) {
			checkGoroutines(t)
			r, err := NewRelay(&RelayConfig{GoroutineReaders: goroutines})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if goroutines != (r.sides[0].reg == nil) {
				t.Fatalf("GoroutineReaders %v, but poller registration %v", goroutines, r.sides[0].reg)
			}
			a, b := newRelayEnd(t), newRelayEnd(t)
			if err := r.SetPeer(0, udpAddr(a.conn), false); err != nil {
				t.Fatal(err)
			}
			if err := r.SetPeer(1, udpAddr(b.conn), false); err != nil {
				t.Fatal(err)
			}
			var seqs []uint16
			a.sendBurst(t, r.Addr(0), 0xa1, 65500, 60, b) // wraps the sequence
			for i := range 60 {
				seqs = append(seqs, 65500+uint16(i))
			}
			a.sendBurst(t, r.Addr(0), 0xa2, 7, 40, b) // a new stream
			for i := range 40 {
				seqs = append(seqs, 7+uint16(i))
			}
			got := b.packets()
			checkRelayed(t, got, r.Addr(1), seqs, 0xa1)
			if !got[60].marker {
				t.Error("the new stream's first packet has no marker bit")
			}
			b.sendBurst(t, r.Addr(1), 0xb1, 1, 50, a)
			back := make([]uint16, 50)
			for i := range back {
				back[i] = 1 + uint16(i)
			}
			checkRelayed(t, a.packets(), r.Addr(0), back, 0xb1)

			spoof := udpListen(t)
			if _, err := spoof.WriteToUDPAddrPort(seqPacket(0xee, 1), r.Addr(0)); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the spoofed packet to be counted", func() bool { return r.Stats().WrongSource == 1 })
			if s := r.Stats(); s.ForwardedAB != 100 || s.ForwardedBA != 50 || s.WriteErrors != 0 {
				t.Fatalf("stats %+v, want 100 A→B, 50 B→A", s)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			a.conn.Close()
			b.conn.Close()
		})
	}
}

// TestRelayLatchesAndRejectsBadInput: without an SDP address a side
// latches onto its first packet's source; a side's packets wait for the
// other side's peer; malformed datagrams and RTCP are dropped and counted;
// bad SetPeer arguments are refused.
func TestRelayLatchesAndRejectsBadInput(t *testing.T) {
	checkGoroutines(t)
	r, err := NewRelay(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a, b := newRelayEnd(t), newRelayEnd(t)
	if _, err := a.conn.WriteToUDPAddrPort(seqPacket(1, 1), r.Addr(0)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a packet without a route to be counted", func() bool { return r.Stats().NoRoute == 1 })
	if err := r.SetPeer(1, udpAddr(b.conn), true); err != nil {
		t.Fatal(err)
	}
	a.sendBurst(t, r.Addr(0), 1, 2, 5, b)
	if _, err := a.conn.WriteToUDPAddrPort([]byte{0x80, 200, 0, 1, 0, 0, 0, 1}, r.Addr(0)); err != nil { // RTCP SR
		t.Fatal(err)
	}
	if _, err := a.conn.WriteToUDPAddrPort([]byte("garbage"), r.Addr(0)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "two malformed datagrams", func() bool { return r.Stats().Malformed == 2 })
	other := udpListen(t)
	if _, err := other.WriteToUDPAddrPort(seqPacket(1, 9), r.Addr(0)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a packet from another source than the latched one", func() bool { return r.Stats().WrongSource == 1 })
	for _, bad := range []struct {
		side int
		addr netip.AddrPort
	}{{2, udpAddr(a.conn)}, {0, netip.AddrPort{}}, {0, netip.MustParseAddrPort("127.0.0.1:0")}} {
		if err := r.SetPeer(bad.side, bad.addr, false); err == nil {
			t.Errorf("SetPeer(%d, %v) accepted", bad.side, bad.addr)
		}
	}
	time.Sleep(0) // nothing timed: the checks above waited for what they need
	if s := r.Stats(); s.ForwardedAB != 5 {
		t.Fatalf("stats %+v, want 5 forwarded", s)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	a.conn.Close()
	b.conn.Close()
}
