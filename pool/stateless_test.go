package pool

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/sip/sipcapture"
)

// bareUDP is a UDP socket on loopback, closed when the test ends: a phone the test
// drives by hand.
func bareUDP(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// slRig is a pool, alice (a bare UDP socket that sends to the pool) and bob's phone (a
// bare UDP socket registered as bob, which the test answers by hand).
type slRig struct {
	p          *Pool
	alice, bob *net.UDPConn
	pool       *net.UDPAddr
	deadline   time.Time
}

func newSLRig(t *testing.T) *slRig {
	t.Helper()
	r := &slRig{deadline: time.Now().Add(20 * time.Second)}
	cfg := testConfig("pool-a", Range{Start: "7000", End: "7099"})
	cfg.UnauthenticatedCalls = true // alice's requests are bare datagrams
	r.p = startPool(t, cfg, Options{})
	r.bob, r.alice = bareUDP(t), bareUDP(t)
	var err error
	if r.pool, err = net.ResolveUDPAddr("udp", r.p.Addr()); err != nil {
		t.Fatal(err)
	}
	u := newRawUA(t)
	if res := u.doAuth(t, registerReq(r.p, "bob", "<sip:bob@"+r.bob.LocalAddr().String()+">", 300), "bob", "bob-pw"); res.StatusCode != 200 {
		t.Fatalf("register bob = %d", res.StatusCode)
	}
	return r
}

// request is a request from alice to bob: in the dialog (To tag bob1) unless toTag is
// "", with Via branch and CSeq seq, and extra header lines (each ending in CRLF).
func (r *slRig) request(method, branch string, seq int, toTag, extra string) []byte {
	to := "<sip:bob@pool-a>"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	return []byte(fmt.Sprintf("%s sip:bob@%s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=z9hG4bK-%s\r\n"+
		"%s"+
		"From: <sip:alice@pool-a>;tag=alice1\r\n"+
		"To: %s\r\n"+
		"Call-ID: stateless@alice\r\n"+
		"CSeq: %d %s\r\n"+
		"Contact: <sip:alice@%s>\r\n"+
		"Content-Length: 0\r\n\r\n", method, r.bob.LocalAddr(), r.alice.LocalAddr(), branch, extra, to, seq, method, r.alice.LocalAddr()))
}

func (r *slRig) send(t *testing.T, msg []byte) {
	t.Helper()
	if _, err := r.alice.WriteTo(msg, r.pool); err != nil {
		t.Fatal(err)
	}
}

// read is the next datagram c gets, raw and parsed.
func (r *slRig) read(t *testing.T, c *net.UDPConn, what string) ([]byte, sip.Message, *net.UDPAddr) {
	t.Helper()
	buf := make([]byte, 65535)
	c.SetReadDeadline(r.deadline)
	n, from, err := c.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("waited for %s: %v", what, err)
	}
	data := append([]byte(nil), buf[:n]...)
	m, err := sip.ParseMessage(append([]byte(nil), data...))
	if err != nil {
		t.Fatalf("%s does not parse: %v\n%s", what, err, data)
	}
	return data, m, from
}

// atBob is the next request bob's phone gets, skipping retransmitted INVITEs.
func (r *slRig) atBob(t *testing.T, what string) ([]byte, *sip.Request, *net.UDPAddr) {
	t.Helper()
	for {
		data, m, from := r.read(t, r.bob, what)
		if req, ok := m.(*sip.Request); ok {
			return data, req, from
		}
	}
}

// answerAtAlice is the next final answer alice gets.
func (r *slRig) answerAtAlice(t *testing.T, what string) ([]byte, *sip.Response) {
	t.Helper()
	for {
		data, m, _ := r.read(t, r.alice, what)
		if res, ok := m.(*sip.Response); ok && !res.IsProvisional() {
			return data, res
		}
	}
}

// answer is a 200 to the raw request req as bob's phone sends it: its Via lines, From,
// To, Call-ID and CSeq copied; the Vias in one line, comma separated, when joinVias (as
// SIPp writes them).
func answer(req []byte, joinVias bool) []byte {
	var vias, rest []string
	head, _, _ := bytes.Cut(req, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n")[1:] {
		name, _, _ := strings.Cut(line, ":")
		switch strings.ToLower(name) {
		case "via":
			vias = append(vias, line)
		case "from", "to", "call-id", "cseq":
			rest = append(rest, line)
		}
	}
	if joinVias {
		for i := range vias[1:] {
			vias[i+1] = strings.TrimPrefix(vias[i+1], "Via: ")
		}
		vias = []string{strings.Join(vias, ", ")}
	}
	return []byte("SIP/2.0 200 OK\r\n" + strings.Join(vias, "\r\n") + "\r\n" + strings.Join(rest, "\r\n") + "\r\nContent-Length: 0\r\n\r\n")
}

// TestInDialogRelayedStatelessly: a request inside a dialog goes to bob with the pool's
// Via on top (a stateless branch), alice's Via with received/rport as the pool saw her,
// Max-Forwards one less and the Request-URI at bob's contact; bob's answer reaches alice
// without the pool's Via, whether bob writes the Vias on one line or on two, and one
// with a branch the pool did not make does not; and a
// retransmission read after the answer is answered again by the pool, not relayed: bob
// gets the next request of the dialog next.
func TestInDialogRelayedStatelessly(t *testing.T) {
	r := newSLRig(t)
	notify := r.request("NOTIFY", "sl-notify", 1, "bob1", "Max-Forwards: 70\r\nEvent: refer\r\n")
	r.send(t, notify)
	raw, req, from := r.atBob(t, "the NOTIFY")
	if req.Method != sip.NOTIFY {
		t.Fatalf("bob got %s, want the NOTIFY", req.Method)
	}
	vias := req.GetHeaders("Via")
	if len(vias) != 2 {
		t.Fatalf("bob's NOTIFY has %d Vias, want the pool's and alice's:\n%s", len(vias), raw)
	}
	top, second := vias[0].(*sip.ViaHeader), vias[1].(*sip.ViaHeader)
	if b, _ := top.Params.Get("branch"); top.Host != r.pool.IP.String() || top.Port != r.pool.Port || !strings.HasPrefix(b, statelessPrefix) {
		t.Fatalf("top Via %s, want the pool's (%s) with a stateless branch", top.Value(), r.pool)
	}
	alicePort := strconv.Itoa(r.alice.LocalAddr().(*net.UDPAddr).Port)
	if b, _ := second.Params.Get("branch"); b != "z9hG4bK-sl-notify" {
		t.Fatalf("alice's Via %s lost its branch", second.Value())
	}
	if rp, _ := second.Params.Get("rport"); rp != alicePort {
		t.Fatalf("alice's Via %s, want rport=%s (RFC 3581: where the pool saw her)", second.Value(), alicePort)
	}
	if second.Params.Has("received") {
		t.Fatalf("alice's Via %s has received= though its host is where she sent from", second.Value())
	}
	if mf := req.MaxForwards(); mf == nil || mf.Val() != 69 {
		t.Fatalf("Max-Forwards %v, want 69", mf)
	}
	if req.Recipient.String() != "sip:bob@"+r.bob.LocalAddr().String() {
		t.Fatalf("Request-URI %s, want bob's contact", req.Recipient.String())
	}
	// An answer with the pool's Via but a branch it did not make is not relayed: the
	// pool is no reflector for made-up answers.
	b, _ := top.Params.Get("branch")
	forged := bytes.Replace(answer(raw, true), []byte(b), []byte(statelessPrefix+"0123456789abcdef"), 1)
	forged = bytes.Replace(forged, []byte("SIP/2.0 200 OK"), []byte("SIP/2.0 202 Forged"), 1)
	if _, err := r.bob.WriteToUDP(forged, from); err != nil {
		t.Fatal(err)
	}
	if _, err := r.bob.WriteToUDP(answer(raw, true), from); err != nil {
		t.Fatal(err)
	}
	first, res := r.answerAtAlice(t, "the answer to the NOTIFY")
	if res.StatusCode != 200 || len(res.GetHeaders("Via")) != 1 {
		t.Fatalf("alice got\n%s\nwant bob's 200 with her Via only", first)
	}
	if b, _ := res.Via().Params.Get("branch"); b != "z9hG4bK-sl-notify" {
		t.Fatalf("alice's answer has Via %s", res.Via().Value())
	}

	r.send(t, notify) // alice did not hear the 200, say
	if again, _ := r.answerAtAlice(t, "the answer to the retransmitted NOTIFY"); !bytes.Equal(again, first) {
		t.Fatalf("retransmitted NOTIFY answered\n%s\nwant the first answer again\n%s", again, first)
	}
	// Read in order by one goroutine: the retransmission is dealt with before this is.
	r.send(t, r.request("BYE", "sl-bye", 2, "bob1", ""))
	raw, req, from = r.atBob(t, "the BYE")
	if req.Method != sip.BYE {
		t.Fatalf("bob got %s after the NOTIFY, want the BYE: the retransmission was relayed", req.Method)
	}
	if mf := req.MaxForwards(); mf == nil || mf.Val() != 70 {
		t.Fatalf("BYE without Max-Forwards relayed with %v, want 70 added", mf)
	}
	if _, err := r.bob.WriteToUDP(answer(raw, false), from); err != nil {
		t.Fatal(err)
	}
	if data, res := r.answerAtAlice(t, "the answer to the BYE"); res.StatusCode != 200 || res.CSeq().MethodName != sip.BYE || len(res.GetHeaders("Via")) != 1 {
		t.Fatalf("alice got\n%s\nwant bob's 200 to the BYE with her Via only", data)
	}
}

// TestNon2xxAckNotRelayed: bob refuses alice's INVITE 486; the pool's client transaction
// ACKs it to bob, and alice's ACK — in the dialog by its tags, but the INVITE's server
// transaction's (RFC 3261 §17.2.1) — goes no further: bob gets the MESSAGE alice sends
// after it next.
func TestNon2xxAckNotRelayed(t *testing.T) {
	r := newSLRig(t)
	invite := r.request("INVITE", "sl-invite", 1, "", "Max-Forwards: 70\r\n")
	r.send(t, invite)
	raw, req, from := r.atBob(t, "the INVITE")
	if !req.IsInvite() {
		t.Fatalf("bob got %s, want the INVITE", req.Method)
	}
	busy := bytes.Replace(answer(raw, false), []byte("200 OK"), []byte("486 Busy Here"), 1)
	busy = bytes.Replace(busy, []byte("To: <sip:bob@pool-a>"), []byte("To: <sip:bob@pool-a>;tag=bob1"), 1)
	if _, err := r.bob.WriteToUDP(busy, from); err != nil {
		t.Fatal(err)
	}
	if data, res := r.answerAtAlice(t, "the 486"); res.StatusCode != 486 {
		t.Fatalf("alice got\n%s\nwant bob's 486", data)
	}
	for {
		_, req, _ = r.atBob(t, "the pool's ACK of the 486")
		if req.IsAck() {
			break
		}
	}
	r.send(t, bytes.Replace(bytes.Replace(invite, []byte("INVITE"), []byte("ACK"), 2), []byte("To: <sip:bob@pool-a>"), []byte("To: <sip:bob@pool-a>;tag=bob1"), 1))
	r.send(t, r.request("MESSAGE", "sl-message", 2, "bob1", ""))
	for {
		data, req, _ := r.atBob(t, "the MESSAGE")
		if req.IsInvite() {
			continue // a retransmission from before the 486
		}
		if req.Method != sip.MESSAGE {
			t.Fatalf("bob got\n%s\nwant the MESSAGE: alice's ACK of the 486 was relayed", data)
		}
		return
	}
}

// TestInDialogLoopAndHops: an in-dialog request that already passed the pool is not
// relayed statelessly but answered 482 by the stateful path's loop check, and one with no
// hops left 483.
func TestInDialogLoopAndHops(t *testing.T) {
	r := newSLRig(t)
	plain := r.request("INFO", "sl-loop", 1, "bob1", "Max-Forwards: 70\r\n")
	m, err := sip.ParseMessage(append([]byte(nil), plain...))
	if err != nil {
		t.Fatal(err)
	}
	ours := "Via: SIP/2.0/UDP " + r.pool.String() + ";branch=" + branchPrefix + loopHash(m.(*sip.Request)) + ".0123\r\n"
	looped := bytes.Replace(plain, []byte("Max-Forwards"), []byte(ours+"Max-Forwards"), 1)
	r.send(t, looped)
	if data, res := r.answerAtAlice(t, "the answer to the looped INFO"); res.StatusCode != 482 {
		t.Fatalf("looped INFO answered\n%s\nwant 482", data)
	}
	r.send(t, r.request("INFO", "sl-hops", 2, "bob1", "Max-Forwards: 0\r\n"))
	if data, res := r.answerAtAlice(t, "the answer to the INFO with no hops left"); res.StatusCode != 483 {
		t.Fatalf("INFO with Max-Forwards 0 answered\n%s\nwant 483", data)
	}
}

// BenchmarkInDialogRelay: one in-dialog request (a NOTIFY as SIPp's bob sends it) through
// the pool to bob and bob's 200 back, stateful (sipgo's transactions, as before
// stateless.go) and stateless. cpu-µs/op is the test process's CPU per round trip: the
// pool's, plus alice's and bob's bare sockets, which are the same in both.
func BenchmarkInDialogRelay(b *testing.B) {
	for _, mode := range []string{"stateful", "stateless"} {
		b.Run(mode, func(b *testing.B) { benchInDialogRelay(b, mode == "stateful") })
	}
}

func benchInDialogRelay(b *testing.B, stateful bool) {
	cfg := testConfig("pool-a", Range{Start: "7000", End: "7099"})
	cfg.UnauthenticatedCalls = true
	p := startPool(b, cfg, Options{testStateful: stateful})
	bob, alice := bareUDP(b), bareUDP(b)
	u := newRawUA(b)
	if res := u.doAuth(b, registerReq(p, "bob", "<sip:bob@"+bob.LocalAddr().String()+">", 300), "bob", "bob-pw"); res.StatusCode != 200 {
		b.Fatalf("register bob = %d", res.StatusCode)
	}
	to, err := net.ResolveUDPAddr("udp", p.Addr())
	if err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Minute)
	bob.SetReadDeadline(deadline)
	alice.SetReadDeadline(deadline)
	go func() { // bob's phone: 200 to every request, Vias on one line as SIPp writes them
		buf := make([]byte, 65535)
		for {
			n, from, err := bob.ReadFromUDP(buf)
			if err != nil {
				return
			}
			bob.WriteToUDP(answer(buf[:n], true), from)
		}
	}()
	buf := make([]byte, 65535)
	cpu0 := cpuTime(b, os.Getpid())
	b.ResetTimer()
	for i := range b.N {
		req := fmt.Sprintf("NOTIFY sip:bob@%s SIP/2.0\r\n"+
			"Via: SIP/2.0/UDP %s;branch=z9hG4bK-bench-%d\r\n"+
			"From: <sip:alice@pool-a>;tag=alice1\r\n"+
			"To:  <sip:bob@pool-a>;tag=bob%d\r\n"+
			"Call-ID: bench-%d@alice\r\n"+
			"CSeq: 1 NOTIFY\r\n"+
			"Max-Forwards: 70\r\n"+
			"Event: refer\r\n"+
			"Subscription-State: terminated;reason=noresource\r\n"+
			"Content-Type: message/sipfrag\r\n"+
			"Content-Length: 16\r\n\r\nSIP/2.0 200 OK\r\n", bob.LocalAddr(), alice.LocalAddr(), i, i, i)
		if _, err := alice.WriteTo([]byte(req), to); err != nil {
			b.Fatal(err)
		}
		if _, err := alice.Read(buf); err != nil {
			b.Fatalf("alice waited for the answer to NOTIFY %d: %v", i, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime(b, os.Getpid())-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// TestStatelessRelayCaptured: --sip-capture records what the stateless relay sends with
// the pool's own socket write, as it records what sipgo sends.
func TestStatelessRelayCaptured(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sip.pcap")
	stop, err := sipcapture.Start(path)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	r := newSLRig(t)
	r.send(t, r.request("BYE", "sl-captured", 1, "bob1", ""))
	relayed, _, _ := r.atBob(t, "the BYE")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, relayed) {
		t.Fatalf("the capture does not hold the BYE the pool relayed:\n%s", relayed)
	}
}
