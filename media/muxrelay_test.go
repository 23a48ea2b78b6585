//go:build linux

package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
)

func newMuxRelay(t *testing.T, cfg *MuxRelayConfig) *MuxRelay {
	t.Helper()
	r, err := NewMuxRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// newMuxCall is a call on r between two fresh test peers.
func newMuxCall(t *testing.T, r *MuxRelay) (c *MuxCall, a, b *relayEnd) {
	t.Helper()
	c, err := r.NewCall()
	if err != nil {
		t.Fatal(err)
	}
	a, b = newRelayEnd(t), newRelayEnd(t)
	if err := c.SetPeer(0, udpAddr(a.conn)); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPeer(1, udpAddr(b.conn)); err != nil {
		t.Fatal(err)
	}
	return c, a, b
}

// TestMuxRelayForwardsCallsOnOneSharedPort: two calls send to the same
// port; each peer gets only its own call's other peer's packets, as one
// continuous stream from the shared port, across a change of the sender's
// stream; with one socket and with two on the port.
func TestMuxRelayForwardsCallsOnOneSharedPort(t *testing.T) {
	for _, sockets := range []int{1, 2} {
		t.Run(fmt.Sprintf("sockets=%d", sockets), func(t *testing.T) {
			checkGoroutines(t)
			r := newMuxRelay(t, &MuxRelayConfig{Sockets: sockets})
			c1, a1, b1 := newMuxCall(t, r)
			c2, a2, b2 := newMuxCall(t, r)
			port := r.Addr()
			a1.sendBurst(t, port, 0xa1, 65500, 60, b1) // wraps the sequence
			a1.sendBurst(t, port, 0xa2, 7, 40, b1)     // a new stream
			var seqs []uint16
			for i := range 60 {
				seqs = append(seqs, 65500+uint16(i))
			}
			for i := range 40 {
				seqs = append(seqs, 7+uint16(i))
			}
			got := b1.packets()
			checkRelayed(t, got, port, seqs, 0xa1)
			if !got[60].marker {
				t.Error("the new stream's first packet has no marker bit")
			}
			b2.sendBurst(t, port, 0xb2, 1, 50, a2)
			back := make([]uint16, 50)
			for i := range back {
				back[i] = 1 + uint16(i)
			}
			checkRelayed(t, a2.packets(), port, back, 0xb2)
			if n := len(a1.packets()) + len(b2.packets()); n != 0 {
				t.Fatalf("%d packets reached a peer of the wrong direction or call", n)
			}
			if s := c1.Stats(); s.ForwardedAB != 100 || s.ForwardedBA != 0 || s.WriteErrors != 0 {
				t.Fatalf("call 1 stats %+v, want 100 A→B", s)
			}
			if s := c2.Stats(); s.ForwardedAB != 0 || s.ForwardedBA != 50 {
				t.Fatalf("call 2 stats %+v, want 50 B→A", s)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			for _, e := range []*relayEnd{a1, b1, a2, b2} {
				e.conn.Close()
			}
		})
	}
}

// TestMuxRelayRejectsUnknownSourcesAndReleasesEndedCalls: a source no
// call registered is dropped (a shared port cannot latch); a peer address
// can belong to one side of one call only; a call's end releases its
// addresses at once, and then they may be used again; malformed datagrams
// and RTCP are dropped; a side whose other side has no peer yet is
// counted, not sent.
func TestMuxRelayRejectsUnknownSourcesAndReleasesEndedCalls(t *testing.T) {
	checkGoroutines(t)
	r := newMuxRelay(t, nil)
	c, a, b := newMuxCall(t, r)
	stranger := udpListen(t)
	if _, err := stranger.WriteToUDPAddrPort(seqPacket(0xee, 1), r.Addr()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the stranger's packet to be counted unknown", func() bool { return r.Stats().Unknown == 1 })

	other, err := r.NewCall()
	if err != nil {
		t.Fatal(err)
	}
	if err := other.SetPeer(0, udpAddr(a.conn)); !errors.Is(err, ErrPeerInUse) {
		t.Fatalf("another call took call 1's peer address: %v", err)
	}
	if err := c.SetPeer(1, udpAddr(a.conn)); !errors.Is(err, ErrPeerInUse) {
		t.Fatalf("both sides of a call took one address: %v", err)
	}
	if err := c.SetPeer(0, udpAddr(a.conn)); err != nil {
		t.Fatalf("setting a side's own address again: %v", err)
	}
	for _, bad := range []struct {
		side int
		addr netip.AddrPort
	}{{2, udpAddr(stranger)}, {0, netip.AddrPort{}}, {0, netip.MustParseAddrPort("127.0.0.1:0")}, {0, netip.MustParseAddrPort("0.0.0.0:5004")}, {0, netip.MustParseAddrPort("[::1]:5004")}} {
		if err := other.SetPeer(bad.side, bad.addr); err == nil {
			t.Errorf("SetPeer(%d, %v) accepted", bad.side, bad.addr)
		}
	}

	if _, err := a.conn.WriteToUDPAddrPort([]byte{0x80, 200, 0, 1, 0, 0, 0, 1}, r.Addr()); err != nil { // RTCP SR
		t.Fatal(err)
	}
	if _, err := a.conn.WriteToUDPAddrPort([]byte("garbage"), r.Addr()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "two malformed datagrams", func() bool { return c.Stats().Malformed == 2 })
	a.sendBurst(t, r.Addr(), 1, 1, 5, b)

	// A re-INVITE moves A: the old address is no longer A's.
	moved := newRelayEnd(t)
	if err := c.SetPeer(0, udpAddr(moved.conn)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.conn.WriteToUDPAddrPort(seqPacket(1, 6), r.Addr()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the moved peer's old address to be unknown", func() bool { return r.Stats().Unknown == 2 })
	b.sendBurst(t, r.Addr(), 2, 1, 3, moved)

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n := r.routed(); n != 0 {
		t.Fatalf("%d addresses still routed after the only call ended", n)
	}
	if _, err := b.conn.WriteToUDPAddrPort(seqPacket(2, 9), r.Addr()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "an ended call's peer to be unknown", func() bool { return r.Stats().Unknown == 3 })
	if err := c.SetPeer(0, udpAddr(a.conn)); err == nil {
		t.Fatal("SetPeer on an ended call accepted")
	}
	if err := other.SetPeer(0, udpAddr(b.conn)); err != nil {
		t.Fatalf("an ended call's address not free again: %v", err)
	}
	noRoute, err := r.NewCall()
	if err != nil {
		t.Fatal(err)
	}
	lone := newRelayEnd(t)
	if err := noRoute.SetPeer(0, udpAddr(lone.conn)); err != nil {
		t.Fatal(err)
	}
	if _, err := lone.conn.WriteToUDPAddrPort(seqPacket(3, 1), r.Addr()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a packet without the other side's peer to be counted", func() bool { return noRoute.Stats().NoRoute == 1 })
	if s := c.Stats(); s.ForwardedAB != 5 || s.ForwardedBA != 3 {
		t.Fatalf("call stats %+v, want 5 A→B and 3 B→A", s)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.NewCall(); err == nil {
		t.Fatal("NewCall on a closed relay accepted")
	}
	for _, e := range []*relayEnd{a, b, moved, lone} {
		e.conn.Close()
	}
}

// TestMuxRelayManyCallsInBatches: 200 calls on one port send bursts at
// once, so each recvmmsg carries packets of many calls and each sendmmsg
// sends them to many peers; every peer gets exactly its own call's
// packets, in order: with one worker reading two sockets, two workers
// sharing three, and a worker that does not pace.
func TestMuxRelayManyCallsInBatches(t *testing.T) {
	for _, cfg := range []MuxRelayConfig{{Sockets: 2}, {Sockets: 3, Workers: 2}, {Sockets: 2, Pace: -1}} {
		t.Run(fmt.Sprintf("sockets=%d,workers=%d,pace=%v", cfg.Sockets, cfg.Workers, cfg.Pace), func(t *testing.T) {
			testMuxRelayManyCallsInBatches(t, cfg)
		})
	}
}

func testMuxRelayManyCallsInBatches(t *testing.T, cfg MuxRelayConfig) {
	checkGoroutines(t)
	r := newMuxRelay(t, &cfg)
	const calls, perCall = 200, 20
	type pair struct{ a, b *relayEnd }
	pairs := make([]pair, calls)
	for i := range pairs {
		_, pairs[i].a, pairs[i].b = newMuxCall(t, r)
	}
	// Every call's A sends one packet per round, all calls at once; each
	// payload carries the call's number.
	for seq := range uint16(perCall) {
		for i, p := range pairs {
			pkt := seqPacket(uint32(i+1), seq)
			binary.BigEndian.PutUint32(pkt[fixedHeader:], uint32(i))
			if _, err := p.a.conn.WriteToUDPAddrPort(pkt, r.Addr()); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, fmt.Sprintf("round %d at every B", seq), func() bool {
			for _, p := range pairs {
				if len(p.b.packets()) < int(seq)+1 {
					return false
				}
			}
			return true
		})
	}
	for i, p := range pairs {
		got := p.b.packets()
		if len(got) != perCall {
			t.Fatalf("call %d: %d packets, want %d", i, len(got), perCall)
		}
		for k, w := range got {
			if n := binary.BigEndian.Uint32(w.payload); n != uint32(i) {
				t.Fatalf("call %d got call %d's packet", i, n)
			}
			if k > 0 && w.seq != got[k-1].seq+1 {
				t.Fatalf("call %d: sequence %d after %d", i, w.seq, got[k-1].seq)
			}
		}
		if len(p.a.packets()) != 0 {
			t.Fatalf("call %d: A got packets back", i)
		}
	}
	if s := r.Stats(); s.Unknown != 0 || s.Malformed != 0 {
		t.Fatalf("relay stats %+v, want nothing dropped", s)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range pairs {
		p.a.conn.Close()
		p.b.conn.Close()
	}
}

// TestMuxRelayGivesBackItsPs: each pacing worker keeps a P while it
// sleeps, so a MuxRelay raises GOMAXPROCS by its workers while it runs
// and Close gives them back; a relay that does not pace takes none.
func TestMuxRelayGivesBackItsPs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	r := newMuxRelay(t, &MuxRelayConfig{Sockets: 3, Workers: 2})
	if got := runtime.GOMAXPROCS(0); got != before+2 {
		t.Fatalf("GOMAXPROCS %d with two pacing workers, want %d", got, before+2)
	}
	unpaced := newMuxRelay(t, &MuxRelayConfig{Sockets: 2, Pace: -1})
	if got := runtime.GOMAXPROCS(0); got != before+2 {
		t.Fatalf("GOMAXPROCS %d after a relay that does not pace, want %d", got, before+2)
	}
	if got := len(r.io.socks); got != 3 {
		t.Fatalf("%d sockets, want 3", got)
	}
	if d := defaultSockets(); d != before {
		t.Fatalf("default sockets %d while relays run, want GOMAXPROCS as it was (%d)", d, before)
	}
	for _, rr := range []*MuxRelay{r, unpaced} {
		if err := rr.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("GOMAXPROCS %d after Close, want %d back", got, before)
	}
}

// TestMuxRelayRoutesWithoutAllocating: the per-packet work (route and
// queue) allocates nothing.
func TestMuxRelayRoutesWithoutAllocating(t *testing.T) {
	r := newMuxRelay(t, &MuxRelayConfig{Sockets: 1})
	c, err := r.NewCall()
	if err != nil {
		t.Fatal(err)
	}
	from, to := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:40002")
	if err := c.SetPeer(0, from); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPeer(1, to); err != nil {
		t.Fatal(err)
	}
	s := &muxSocket{} // the worker's own socket would share its batch with the worker
	pkt := seqPacket(7, 1)
	seq := uint16(1)
	allocs := testing.AllocsPerRun(1000, func() {
		seq++
		putHeader(pkt, false, 0, seq, uint32(seq)*160, 7)
		r.mu.RLock()
		out, dst, side, ok := r.route(pkt, from, int64(seq))
		r.mu.RUnlock()
		if !ok || dst != to {
			t.Fatalf("route: ok %v to %v", ok, dst)
		}
		s.nsend = 0
		s.queue(out, dst, side)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per packet, want 0", allocs)
	}
}
