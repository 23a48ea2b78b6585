package media

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// logMachine records what the numbers were measured on.
func logMachine(b *testing.B) {
	b.Helper()
	model := "unknown"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	b.Logf("machine: %d CPUs (GOMAXPROCS %d), %s, %s %s/%s", runtime.NumCPU(), runtime.GOMAXPROCS(0), model, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// reportCPU reports the process CPU time per iteration next to the wall
// time: on a machine shared with other work, wall time per op includes
// waiting for a core, CPU time does not. The benchmark's loop is the only
// busy goroutine, so process CPU is its CPU (plus GC, which counts).
func reportCPU(b *testing.B, c0 time.Duration) {
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
}

// discardWriter is a TrackLocalWriter that marshals the header as pion
// does before encrypting, and keeps nothing: the bridge's own cost.
type discardWriter struct{ buf [maxPacket]byte }

func (w *discardWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	n, err := h.MarshalTo(w.buf[:])
	return n + copy(w.buf[n:], payload), err
}
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// udpWriter is a TrackLocalWriter that sends the packet over UDP: what
// pion does minus SRTP, so the bridge can be compared with a plain
// forwarder doing the same I/O.
type udpWriter struct {
	conn *net.UDPConn
	to   netip.AddrPort
	buf  [maxPacket]byte
}

func (w *udpWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	n, err := h.MarshalTo(w.buf[:])
	if err != nil {
		return 0, err
	}
	n += copy(w.buf[n:], payload)
	return w.conn.WriteToUDPAddrPort(w.buf[:n], w.to)
}
func (w *udpWriter) Write(b []byte) (int, error) { return w.conn.WriteToUDPAddrPort(b, w.to) }

func listen(b *testing.B) *net.UDPConn {
	b.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// benchPacket is a 20 ms PCMU packet as a SIP phone sends it.
func benchPacket(b *testing.B) []byte {
	pkt, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, Timestamp: 160, SSRC: 0x1234},
		Payload: make([]byte, 160)}).Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return pkt
}

// stamp gives pkt the i-th sequence number and timestamp of a stream.
// Sequence numbers must not repeat: SRTP's replay check (RFC 3711 §3.3.2)
// drops a packet whose index was seen before.
func stamp(pkt []byte, i int) {
	binary.BigEndian.PutUint16(pkt[2:], uint16(i))
	binary.BigEndian.PutUint32(pkt[4:], uint32(i*160))
}

// benchBridge is a Bridge whose SIP reader does not run, so the benchmark
// drives the forwarding step itself; its browser side writes to w.
func benchBridge(b *testing.B, w interface {
	WriteRTP(*rtp.Header, []byte) (int, error)
	Write([]byte) (int, error)
}, phone netip.AddrPort) *Bridge {
	b.Helper()
	br := &Bridge{conn: listen(b), track: NewTrack("audio", "bench", PCMU), epoch: time.Now()}
	br.fromSIPState.rw = newRewriter()
	br.toSIPState.rw = newRewriter()
	br.track.bound.Store(&binding{negotiated: negotiated{codec: PCMU, audioPT: 0, eventPT: 101}, ssrc: 99, w: w})
	if err := br.SetRemote(Remote{Addr: phone, Codec: PCMU, EventPT: 101}); err != nil {
		b.Fatal(err)
	}
	return br
}

// BenchmarkForwardStep is the bridge's per-packet work without I/O:
// validate, check the source, map the payload type, rewrite SSRC/seq/ts,
// hand the header and payload to the browser-side writer. 0 allocs/op.
func BenchmarkForwardStep(b *testing.B) {
	logMachine(b)
	pkt := benchPacket(b)
	phone := netip.MustParseAddrPort("127.0.0.1:40000")
	b.Run("sip-to-browser", func(b *testing.B) {
		br := benchBridge(b, &discardWriter{}, phone)
		s := &br.fromSIPState
		b.ReportAllocs()
		b.SetBytes(int64(len(pkt)))
		c0 := cpuTime()
		for i := 0; b.Loop(); i++ {
			stamp(pkt, i) // a new sequence number each time, like real traffic
			br.fromSIP(s, pkt, phone, int64(i)*20e6)
		}
		reportCPU(b, c0)
		if br.Stats().ToBrowser == 0 {
			b.Fatal("nothing forwarded")
		}
	})
	b.Run("sip-to-browser-spoofed-drop", func(b *testing.B) {
		br := benchBridge(b, &discardWriter{}, phone)
		s := &br.fromSIPState
		spoof := netip.MustParseAddrPort("127.0.0.1:40001")
		b.ReportAllocs()
		c0 := cpuTime()
		for i := 0; b.Loop(); i++ {
			br.fromSIP(s, pkt, spoof, int64(i))
		}
		reportCPU(b, c0)
	})
}

// BenchmarkUDPRelay compares, in one run, a plain Go UDP forwarder (read
// from one socket, write to another: the floor) with the bridge doing the
// same I/O plus its forwarding step, in both directions. The sender's
// write is in every variant's loop, so the differences are the bridge's.
func BenchmarkUDPRelay(b *testing.B) {
	logMachine(b)
	pkt := benchPacket(b)

	b.Run("plain-forwarder", func(b *testing.B) {
		src, relay, sink := listen(b), listen(b), listen(b)
		to, via := addrOf(sink), addrOf(relay)
		buf := make([]byte, maxPacket)
		b.ReportAllocs()
		b.SetBytes(int64(len(pkt)))
		c0 := cpuTime()
		for b.Loop() {
			if _, err := src.WriteToUDPAddrPort(pkt, via); err != nil {
				b.Fatal(err)
			}
			n, _, err := relay.ReadFromUDPAddrPort(buf)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := relay.WriteToUDPAddrPort(buf[:n], to); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, c0)
	})

	b.Run("bridge-sip-to-browser", func(b *testing.B) {
		src, sink := listen(b), listen(b)
		br := benchBridge(b, &udpWriter{conn: listen(b), to: addrOf(sink)}, addrOf(src))
		via := br.LocalAddr()
		s := &br.fromSIPState
		b.ReportAllocs()
		b.SetBytes(int64(len(pkt)))
		c0 := cpuTime()
		for i := 0; b.Loop(); i++ {
			stamp(pkt, i)
			if _, err := src.WriteToUDPAddrPort(pkt, via); err != nil {
				b.Fatal(err)
			}
			n, from, err := br.conn.ReadFromUDPAddrPort(s.buf[:])
			if err != nil {
				b.Fatal(err)
			}
			br.fromSIP(s, s.buf[:n], from, br.now())
		}
		reportCPU(b, c0)
		if st := br.Stats(); st.ToBrowser == 0 || st.WriteErrors != 0 {
			b.Fatalf("stats %+v", st)
		}
	})

	b.Run("bridge-browser-to-sip", func(b *testing.B) {
		src, in, sink := listen(b), listen(b), listen(b)
		br := benchBridge(b, &discardWriter{}, addrOf(sink))
		via := addrOf(in)
		s := &br.toSIPState
		n := negotiated{codec: PCMU, audioPT: 0, eventPT: 126}
		b.ReportAllocs()
		b.SetBytes(int64(len(pkt)))
		c0 := cpuTime()
		for i := 0; b.Loop(); i++ {
			stamp(pkt, i)
			if _, err := src.WriteToUDPAddrPort(pkt, via); err != nil {
				b.Fatal(err)
			}
			k, _, err := in.ReadFromUDPAddrPort(s.buf[:])
			if err != nil {
				b.Fatal(err)
			}
			br.toSIP(s, s.buf[:k], n, br.now())
		}
		reportCPU(b, c0)
		if st := br.Stats(); st.ToSIP == 0 || st.WriteErrors != 0 {
			b.Fatalf("stats %+v", st)
		}
	})
}

// BenchmarkForwardPion is the SIP-to-browser step with pion's real writer
// behind it (SRTP encryption, ICE send) on a connected leg: the whole
// gateway cost of one packet toward a browser. Its cpu-ns/op includes the
// in-process browser decrypting and reading the packet, and its allocation
// (pion's packetio buffer growth and the test's recording) is that
// browser's: the forwarding step itself allocates nothing.
func BenchmarkForwardPion(b *testing.B) {
	logMachine(b)
	c := newQuietCall(b, nil)
	pkt := benchPacket(b)
	br := c.bridge()
	s := &sideState{rw: newRewriter()} // the SIP reader owns fromSIPState
	src := c.phone.addr()
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	c0 := cpuTime()
	for i := 0; b.Loop(); i++ {
		stamp(pkt, i)
		br.fromSIP(s, pkt, src, br.now())
		if i%64 == 63 {
			// Let the browser's reader keep up; an unread pion buffer
			// would turn this into a measurement of drops.
			runtime.Gosched()
		}
	}
	reportCPU(b, c0)
}

// BenchmarkRelayLatency measures the added relay latency through a real
// loopback bridge: one packet at a time (ping-pong, so no queueing), from
// the UDP phone through the bridge and pion to the pion browser, and back.
// The direct UDP hop between two sockets is measured in the same run; the
// bridge adds (bridge − direct). The pion "browser" decrypting in-process
// is part of the path, as a real browser's SRTP is.
func BenchmarkRelayLatency(b *testing.B) {
	logMachine(b)
	c := newQuietCall(b, nil)
	toBrowser := make(chan time.Time, 1)
	toPhone := make(chan time.Time, 1)
	c.browser.ear.notify.Store(&toBrowser)
	c.phone.ear.notify.Store(&toPhone)

	pkt := benchPacket(b)
	via := c.bridge().LocalAddr()
	direct := listen(b)
	directTo := addrOf(direct)
	buf := make([]byte, maxPacket)
	var h rtp.Header
	payload := make([]byte, 160)
	var up, down, floor []time.Duration
	wait := func(ch chan time.Time) time.Time {
		select {
		case t := <-ch:
			return t
		case <-time.After(waitLong):
			b.Fatalf("packet lost on loopback: %+v", c.bridge().Stats())
		}
		return time.Time{}
	}
	for i := 0; b.Loop(); i++ {
		stamp(pkt, i)
		t0 := time.Now()
		if _, err := c.phone.conn.WriteToUDPAddrPort(pkt, via); err != nil {
			b.Fatal(err)
		}
		down = append(down, wait(toBrowser).Sub(t0))

		h = rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i * 160)}
		t0 = time.Now()
		if err := c.browser.track.WriteRTP(&h, payload, false); err != nil {
			b.Fatal(err)
		}
		up = append(up, wait(toPhone).Sub(t0))

		t0 = time.Now()
		if _, err := c.phone.conn.WriteToUDPAddrPort(pkt, directTo); err != nil {
			b.Fatal(err)
		}
		if _, _, err := direct.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
		floor = append(floor, time.Since(t0))
	}
	report := func(name string, d []time.Duration) {
		slices.Sort(d)
		b.ReportMetric(float64(d[len(d)/2].Microseconds()), name+"-p50-µs")
		b.ReportMetric(float64(d[len(d)*99/100].Microseconds()), name+"-p99-µs")
	}
	report("sip-to-browser", down)
	report("browser-to-sip", up)
	report("direct-udp", floor)
	b.ReportMetric(0, "ns/op") // per-iteration time mixes three paths; see the metrics
}
