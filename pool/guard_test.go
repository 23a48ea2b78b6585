package pool

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/sip/inorder"
)

// rawRequest is a request with the given CSeq line, for hand-made bad input.
func rawRequest(from net.Addr, transport, user, cseq string, extra string) string {
	return fmt.Sprintf("OPTIONS sip:%s@127.0.0.1 SIP/2.0\r\n"+
		"Via: SIP/2.0/%s %s;branch=z9hG4bK-%d\r\n"+
		"From: <sip:tester@127.0.0.1>;tag=t1\r\n"+
		"To: <sip:%s@127.0.0.1>\r\n"+
		"Call-ID: raw-%d@127.0.0.1\r\n"+
		"CSeq: %s\r\n"+
		"Max-Forwards: 70\r\n%s"+
		"Content-Length: 0\r\n\r\n", user, transport, from, time.Now().UnixNano(), user, time.Now().UnixNano(), cseq, extra)
}

// readStatus reads one datagram and returns its status line, or "" on timeout.
func readStatus(t *testing.T, c *net.UDPConn, wait time.Duration) string {
	t.Helper()
	buf := make([]byte, 65535)
	c.SetReadDeadline(time.Now().Add(wait))
	n, err := c.Read(buf)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
	return line
}

func dialUDP(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	ra, _ := net.ResolveUDPAddr("udp", addr)
	c, err := net.DialUDP("udp", nil, ra)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestMalformedUDP(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	c := dialUDP(t, p.Addr())
	send := func(s string) {
		if _, err := c.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	// A syntactically broken request whose Via can be found: 400 (RFC 3261 §16.3).
	send(rawRequest(c.LocalAddr(), "UDP", "", "banana OPTIONS", ""))
	if got := readStatus(t, c, 10*time.Second); got != "SIP/2.0 400 Bad Request" {
		t.Fatalf("broken CSeq got %q, want 400", got)
	}
	// Parseable but missing mandatory headers: 400 from validation.
	noFrom := strings.Replace(rawRequest(c.LocalAddr(), "UDP", "", "1 OPTIONS", ""), "From: <sip:tester@127.0.0.1>;tag=t1\r\n", "", 1)
	send(noFrom)
	if got := readStatus(t, c, 10*time.Second); !strings.HasPrefix(got, "SIP/2.0 400") {
		t.Fatalf("missing From got %q, want 400", got)
	}
	// CSeq method that does not match: 400.
	send(rawRequest(c.LocalAddr(), "UDP", "", "1 INVITE", ""))
	if got := readStatus(t, c, 10*time.Second); !strings.HasPrefix(got, "SIP/2.0 400") {
		t.Fatalf("CSeq method mismatch got %q, want 400", got)
	}
	// Too large for the pool: 513.
	send(rawRequest(c.LocalAddr(), "UDP", "", "1 OPTIONS", "X-Pad: "+strings.Repeat("a", 20000)+"\r\n"))
	if got := readStatus(t, c, 10*time.Second); !strings.HasPrefix(got, "SIP/2.0 513") {
		t.Fatalf("oversized datagram got %q, want 513", got)
	}
	// Unidentifiable garbage is dropped silently (§18.3); nothing to answer to.
	send("\x00\x01 hello, this is not SIP\r\n\r\n")
	send("SIP/2.0 200 OK\r\nbroken response\r\n\r\n")
	// … and the pool keeps serving: a good OPTIONS still gets 200 (the first answer
	// to arrive proves the garbage produced no reply).
	send(rawRequest(c.LocalAddr(), "UDP", "", "2 OPTIONS", ""))
	if got := readStatus(t, c, 10*time.Second); got != "SIP/2.0 200 OK" {
		t.Fatalf("after garbage got %q, want 200 OK", got)
	}
}

func TestMalformedTCP(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	status := func() string {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := r.ReadString('\n')
		if err != nil {
			return "error: " + err.Error()
		}
		// Skip to the end of this response.
		for {
			l, err := r.ReadString('\n')
			if err != nil || l == "\r\n" {
				break
			}
		}
		return strings.TrimSpace(line)
	}
	// Broken request on a stream: 400, and the connection stays usable because the
	// framing (Content-Length) was intact.
	io.WriteString(c, rawRequest(c.LocalAddr(), "TCP", "", "banana OPTIONS", ""))
	if got := status(); got != "SIP/2.0 400 Bad Request" {
		t.Fatalf("broken request got %q", got)
	}
	io.WriteString(c, rawRequest(c.LocalAddr(), "TCP", "", "1 OPTIONS", ""))
	if got := status(); got != "SIP/2.0 200 OK" {
		t.Fatalf("next request on the same connection got %q", got)
	}
	// A header block that never ends: 513, then the connection is closed (no boundary
	// to resynchronise on).
	io.WriteString(c, "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP "+c.LocalAddr().String()+";branch=z9hG4bK-big\r\nCSeq: 1 OPTIONS\r\nX-Pad: ")
	go io.WriteString(c, strings.Repeat("b", 40000))
	if got := status(); !strings.HasPrefix(got, "SIP/2.0 513") {
		t.Fatalf("endless header got %q, want 513", got)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.ReadByte(); err == nil {
		t.Fatal("connection still open after 513")
	}
	// Everyone else is still served.
	u := dialUDP(t, p.Addr())
	u.Write([]byte(rawRequest(u.LocalAddr(), "UDP", "", "1 OPTIONS", "")))
	if got := readStatus(t, u, 10*time.Second); got != "SIP/2.0 200 OK" {
		t.Fatalf("UDP after TCP abuse got %q", got)
	}
}

func TestTCPConnectionLimit(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{MaxTCPConns: 10})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 30; i++ {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// The 20 over the limit are closed by the pool; the first 10 stay open.
	closed := 0
	for _, c := range conns[10:] {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == io.EOF {
			closed++
		}
	}
	if closed != 20 {
		t.Fatalf("%d of 20 connections over the limit were closed", closed)
	}
	// The admitted ones still work.
	c := conns[0]
	io.WriteString(c, rawRequest(c.LocalAddr(), "TCP", "", "1 OPTIONS", ""))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "SIP/2.0 200") {
		t.Fatalf("admitted connection got %q %v", line, err)
	}
}

// TestFloodDoesNotGrowMemory sends tens of thousands of bad and oversized datagrams and
// half-open oversized TCP messages, then checks that the heap is back near where it
// started and the pool still answers.
func TestFloodDoesNotGrowMemory(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{MaxTCPConns: 64})
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	c := dialUDP(t, p.Addr())
	big := []byte(rawRequest(c.LocalAddr(), "UDP", "", "1 OPTIONS", "X-Pad: "+strings.Repeat("a", 30000)+"\r\n"))
	bad := []byte(rawRequest(c.LocalAddr(), "UDP", "", "x OPTIONS", ""))
	for i := 0; i < 20000; i++ {
		if i%2 == 0 {
			c.Write(big)
		} else {
			c.Write(bad)
		}
	}
	// Valid requests too: each leaves a server transaction behind for Timer J (32 s
	// over UDP), which is the flood's real cost.
	for i := 0; i < 10000; i++ {
		c.Write([]byte(rawRequest(c.LocalAddr(), "UDP", "", "1 OPTIONS", "")))
	}
	for i := 0; i < 200; i++ {
		tc, err := net.Dial("tcp", p.Addr())
		if err != nil {
			continue
		}
		io.WriteString(tc, "INVITE sip:x SIP/2.0\r\nContent-Length: 100000000\r\n\r\n"+strings.Repeat("z", 8000))
		tc.Close()
	}
	// The pool is still serving.
	u := dialUDP(t, p.Addr())
	u.Write([]byte(rawRequest(u.LocalAddr(), "UDP", "", "1 OPTIONS", "")))
	if got := readStatus(t, u, 10*time.Second); got != "SIP/2.0 200 OK" {
		t.Fatalf("after flood got %q", got)
	}
	after := heap()
	if after > before+32<<20 {
		t.Fatalf("heap grew from %d to %d bytes during the flood", before, after)
	}
	t.Logf("heap before %d KiB, after %d KiB", before>>10, after>>10)
}

// TestInDialogFloodGets503 holds readFilter's in-dialog fast path (a request with both
// tags is read by inorder.Scan, not parsed) to what the parsing path did: the flood gate
// still counts it and refuses it statelessly with 503 and Retry-After, and the answers —
// to a Via with no rport — still go to the packet's source.
func TestInDialogFloodGets503(t *testing.T) {
	cfg := testConfig("pool-a", Range{Start: "7000", End: "7099"})
	cfg.FloodLimit = FloodLimit{PerSecond: 0.001, Burst: 2} // two, then one every 1,000 s
	p := startPool(t, cfg, Options{})
	c := dialUDP(t, p.Addr())
	bye := func(i int) []byte {
		// To a user nobody registered: past the gate the pool answers it itself.
		return []byte(fmt.Sprintf("BYE sip:nobody@127.0.0.1 SIP/2.0\r\n"+
			"Via: SIP/2.0/UDP 192.0.2.1:5999;branch=z9hG4bK-indialog-%d\r\n"+
			"From: <sip:tester@127.0.0.1>;tag=t1\r\nTo: <sip:nobody@127.0.0.1>;tag=t2\r\n"+
			"Call-ID: indialog-flood@127.0.0.1\r\nCSeq: %d BYE\r\nMax-Forwards: 70\r\n"+
			"Content-Length: 0\r\n\r\n", i, i+1))
	}
	if _, ok := inorder.Scan(bye(0)); !ok {
		t.Fatal("the test's BYE is not one inorder.Scan reads: it would not take the fast path")
	}
	const n = 5
	for i := range n {
		if _, err := c.Write(bye(i)); err != nil {
			t.Fatal(err)
		}
	}
	refused, answered := 0, 0
	buf := make([]byte, 65535)
	for refused+answered < n {
		// The Via names 192.0.2.1, where nothing listens: an answer here went to the
		// packet's source (rport added by the filter, RFC 3581).
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		k, err := c.Read(buf)
		if err != nil {
			t.Fatalf("%d of %d BYEs answered (%d with 503), then waiting 10 s for the next answer: %v", refused+answered, n, refused, err)
		}
		msg := string(buf[:k])
		if strings.HasPrefix(msg, "SIP/2.0 503") {
			refused++
			if !strings.Contains(msg, "\r\nRetry-After: ") || !strings.Contains(msg, "requests a second from 127.0.0.1") {
				t.Errorf("503 without Retry-After or the flood's Warning:\n%s", msg)
			}
		} else {
			answered++
		}
	}
	if answered != 2 || refused != n-2 {
		t.Fatalf("a burst of 2 let %d BYEs in and refused %d, want 2 and %d", answered, refused, n-2)
	}
}

// BenchmarkReadFilter is the read filter's cost for the requests of a park cycle as SIPp
// sends them to the pool: an in-dialog BYE (read by inorder.Scan) and a new INVITE
// (parsed). Each request is new (its own branch and Call-ID), so none is taken for a
// retransmission.
func BenchmarkReadFilter(b *testing.B) {
	cfg := testConfig("pool-a", Range{Start: "7000", End: "7099"})
	cfg.FloodLimit = FloodLimit{PerSecond: 1e9, Burst: 1e9}
	cfg.Overload.Off = true // its start-up ramp would refuse most of the new calls
	p := startPool(b, cfg, Options{})
	p.mu.Lock()
	n := p.node
	p.mu.Unlock()
	props := sip.TransportReadProps{Transport: "UDP", RemoteAddr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 47945}}
	for _, c := range []struct{ name, format string }{
		{"in-dialog", "BYE sip:carol@127.0.0.1:35412 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:47945;branch=z9hG4bK-11205-%d-31\r\n" +
			"From: <sip:bob@pool-a>;tag=11205bob3\r\nTo: <sip:carol@127.0.0.1:35412>;tag=11206carolphone\r\n" +
			"Call-ID: %d-11209@127.0.0.1\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"},
		// The same as SIPp writes it from "To: [$carolto]": the value keeps the SP it
		// was copied with.
		{"in-dialog-sipp", "BYE sip:carol@127.0.0.1:35412 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:47945;branch=z9hG4bK-11205-%d-31\r\n" +
			"From: <sip:bob@pool-a>;tag=11205bob3\r\nTo:  <sip:carol@127.0.0.1:35412>;tag=11206carolphone\r\n" +
			"Call-ID: %d-11209@127.0.0.1\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"},
		{"new-call", "INVITE sip:bob@pool-a SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:47945;branch=z9hG4bK-11209-%d-0\r\n" +
			"From: <sip:alice@pool-a>;tag=11209alice1\r\nTo: <sip:bob@pool-a>\r\n" +
			"Call-ID: %d-11209@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:41221>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				msg := []byte(fmt.Sprintf(c.format, i, i))
				if out, err := n.readFilter(props, msg); err != nil || len(out) == 0 {
					b.Fatalf("filtered out: %v", err)
				}
			}
		})
	}
}
