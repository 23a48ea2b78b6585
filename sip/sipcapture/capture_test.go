package sipcapture_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parkway/parkway/pool"
	"github.com/parkway/parkway/sip/sipcapture"
	"github.com/parkway/parkway/siptest"
)

// packet is one record of a capture, decoded by this test's own reader.
type packet struct {
	tcp      bool
	src, dst netip.AddrPort
	payload  []byte
}

// readPcap decodes a classic pcap file of link type RAW, checking every length and
// checksum on the way.
func readPcap(t *testing.T, path string) []packet {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 24 || binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 || binary.LittleEndian.Uint32(b[20:]) != 101 {
		t.Fatalf("not a little-endian pcap of link type 101: % x", b[:min(24, len(b))])
	}
	var out []packet
	for off := 24; off < len(b); {
		if len(b)-off < 16 {
			t.Fatalf("truncated record header at %d", off)
		}
		incl, orig := int(binary.LittleEndian.Uint32(b[off+8:])), int(binary.LittleEndian.Uint32(b[off+12:]))
		if incl != orig || off+16+incl > len(b) {
			t.Fatalf("record at %d: lengths %d/%d, %d bytes left", off, incl, orig, len(b)-off-16)
		}
		p, err := decode(b[off+16 : off+16+incl])
		if err != nil {
			t.Fatalf("record at %d: %v", off, err)
		}
		out = append(out, p)
		off += 16 + incl
	}
	return out
}

func decode(ip []byte) (packet, error) {
	var p packet
	var l4 []byte
	var proto byte
	var pseudo []byte
	switch ip[0] >> 4 {
	case 4:
		hl := int(ip[0]&0xf) * 4
		if int(binary.BigEndian.Uint16(ip[2:])) != len(ip) || sum(ip[:hl]) != 0xffff {
			return p, errors.New("bad IPv4 length or header checksum")
		}
		proto, l4 = ip[9], ip[hl:]
		src, _ := netip.AddrFromSlice(ip[12:16])
		dst, _ := netip.AddrFromSlice(ip[16:20])
		p.src, p.dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
		pseudo = append(append([]byte{}, ip[12:20]...), 0, proto, byte(len(l4)>>8), byte(len(l4)))
	case 6:
		if int(binary.BigEndian.Uint16(ip[4:]))+40 != len(ip) {
			return p, errors.New("bad IPv6 payload length")
		}
		proto, l4 = ip[6], ip[40:]
		src, _ := netip.AddrFromSlice(ip[8:24])
		dst, _ := netip.AddrFromSlice(ip[24:40])
		p.src, p.dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
		pseudo = append(append([]byte{}, ip[8:40]...), 0, 0, byte(len(l4)>>8), byte(len(l4)), 0, 0, 0, proto)
	default:
		return p, fmt.Errorf("IP version %d", ip[0]>>4)
	}
	if sum(append(pseudo, l4...)) != 0xffff {
		return p, errors.New("bad UDP/TCP checksum")
	}
	sp, dp := binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
	p.src, p.dst = netip.AddrPortFrom(p.src.Addr(), sp), netip.AddrPortFrom(p.dst.Addr(), dp)
	switch proto {
	case 17:
		if int(binary.BigEndian.Uint16(l4[4:])) != len(l4) {
			return p, errors.New("bad UDP length")
		}
		p.payload = l4[8:]
	case 6:
		p.tcp, p.payload = true, l4[int(l4[12]>>4)*4:]
	default:
		return p, fmt.Errorf("protocol %d", proto)
	}
	return p, nil
}

// sum is the one's-complement sum folded to 16 bits: 0xffff over data whose checksum
// is right.
func sum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// A real pool and two SIP phones, one on UDP and one on TCP: the capture holds the
// INVITE as it entered the pool and as the pool sent it on, in packets that decode with
// right lengths and checksums and carry the real ports; TCP segments of one direction
// are numbered in sequence.
func TestCaptureHoldsTheInvite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sip.pcap")
	stop, err := sipcapture.Start(path)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	if _, err := sipcapture.Start(path + "2"); err == nil {
		t.Fatal("a second capture started while one runs")
	}

	cfg, _ := pool.DemoConfigs("127.0.0.1")
	cfg.Listen, cfg.Peer = "127.0.0.1:0", nil
	p, err := pool.New(cfg, pool.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	phone := func(user, transport string) *siptest.Phone {
		ph := siptest.NewPhone(t, siptest.PhoneOptions{User: user, Password: user + "-demo", Domain: p.Domain(), Proxy: p.Addr(), Transport: transport})
		if _, err := ph.Register(ctx, time.Minute); err != nil {
			t.Fatalf("register %s: %v", user, err)
		}
		return ph
	}
	alice, bob := phone("alice", "udp"), phone("bob", "tcp")
	go func() {
		select {
		case c := <-bob.Incoming():
			c.Answer(ctx)
		case <-ctx.Done():
		}
	}()
	call, err := alice.Call(ctx, "sip:bob@"+p.Domain())
	if err != nil {
		t.Fatal(err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true

	pkts := readPcap(t, path)
	poolAddr := netip.MustParseAddrPort(p.Addr())
	var toPool, toBob bool
	next := map[[2]netip.AddrPort]uint32{}
	for _, pk := range pkts {
		if pk.tcp {
			// A direction's segments follow on in sequence (what reassembly needs).
			k := [2]netip.AddrPort{pk.src, pk.dst}
			if _, seen := next[k]; !seen {
				next[k] = 1
			}
			next[k] += uint32(len(pk.payload))
		}
		if !bytes.HasPrefix(pk.payload, []byte("INVITE sip:bob@")) {
			continue
		}
		switch {
		case !pk.tcp && pk.dst == poolAddr:
			toPool = true
		case pk.tcp && pk.src.Port() != 0 && pk.dst.Addr().IsLoopback():
			toBob = true
		}
	}
	if !toPool || !toBob {
		t.Fatalf("INVITE to the pool over UDP: %v, from the pool to bob over TCP: %v (%d packets)", toPool, toBob, len(pkts))
	}
	// Nothing is written after stop.
	before, _ := os.Stat(path)
	if _, err := alice.Register(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if after.Size() != before.Size() {
		t.Fatalf("the capture grew from %d to %d bytes after stop", before.Size(), after.Size())
	}
}

// IPv6 packets decode too.
func TestWriterIPv6(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v6.pcap")
	w, err := sipcapture.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Message("UDP", "[::1]:5070", "[::1]:5080", []byte("OPTIONS sip:pool-b SIP/2.0\r\n\r\n"))
	w.Message("TCP", "[::1]:5070", "[::1]:5080", []byte("OPTIONS sip:pool-b SIP/2.0\r\n\r\n"))
	w.Message("UDP", "127.0.0.1:5070", "[::1]:5080", []byte("mixed families: skipped"))
	w.Message("UDP", "not an address", "[::1]:5080", []byte("skipped"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	pkts := readPcap(t, path)
	if len(pkts) != 2 || pkts[0].tcp || !pkts[1].tcp || pkts[0].dst != netip.MustParseAddrPort("[::1]:5080") {
		t.Fatalf("packets %+v", pkts)
	}
}

// TestSentRecorded: what a process sends with its own socket write is recorded by Sent
// while a capture runs, and only then.
func TestSentRecorded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sent.pcap")
	sipcapture.Sent("UDP", "127.0.0.1:5060", "127.0.0.1:5070", []byte("before"))
	if sipcapture.Running() {
		t.Fatal("Running before Start")
	}
	stop, err := sipcapture.Start(path)
	if err != nil {
		t.Fatal(err)
	}
	if !sipcapture.Running() {
		t.Fatal("not Running after Start")
	}
	sipcapture.Sent("UDP", "127.0.0.1:5060", "127.0.0.1:5070", []byte("BYE sip:bob@127.0.0.1:5070 SIP/2.0\r\n\r\n"))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	sipcapture.Sent("UDP", "127.0.0.1:5060", "127.0.0.1:5070", []byte("after"))
	pkts := readPcap(t, path)
	if len(pkts) != 1 || pkts[0].tcp || pkts[0].src != netip.MustParseAddrPort("127.0.0.1:5060") ||
		pkts[0].dst != netip.MustParseAddrPort("127.0.0.1:5070") || !bytes.HasPrefix(pkts[0].payload, []byte("BYE ")) {
		t.Fatalf("packets %+v, want the BYE alone", pkts)
	}
}
