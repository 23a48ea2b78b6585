package pool

import (
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// earlyEndRig is a pool, bob's phone (a bare UDP socket registered as bob that answers
// every request 200 and reports what it got) and alice (a bare UDP socket that sends
// datagrams to the pool and reads the answers).
type earlyEndRig struct {
	p        *Pool
	alice    *net.UDPConn
	bob      *net.UDPConn
	atBob    chan *sip.Request
	handled  atomic.Int32 // INVITEs that reached the pool's handler
	ok200    chan resent  // bob's 200s to INVITEs, as sent
	deadline time.Time
}

// resent is a datagram bob's phone sent, and where to.
type resent struct {
	data []byte
	to   *net.UDPAddr
}

func newEarlyEndRig(t *testing.T) *earlyEndRig {
	t.Helper()
	r := &earlyEndRig{atBob: make(chan *sip.Request, 16), ok200: make(chan resent, 16), deadline: time.Now().Add(20 * time.Second)}
	cfg := testConfig("pool-a", Range{Start: "7000", End: "7099"})
	cfg.UnauthenticatedCalls = true // alice's requests are bare datagrams
	r.p = startPool(t, cfg, Options{testBeforeTurn: func(req *sip.Request) {
		if req.IsInvite() {
			r.handled.Add(1)
		}
	}})
	r.bob, r.alice = bareUDP(t), bareUDP(t)
	u := newRawUA(t)
	if res := u.doAuth(t, registerReq(r.p, "bob", "<sip:bob@"+r.bob.LocalAddr().String()+">", 300), "bob", "bob-pw"); res.StatusCode != 200 {
		t.Fatalf("register bob = %d", res.StatusCode)
	}
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := r.bob.ReadFromUDP(buf)
			if err != nil {
				return
			}
			m, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
			req, ok := m.(*sip.Request)
			if err != nil || !ok {
				continue
			}
			if !req.IsAck() {
				res := sip.NewResponseFromRequest(req, 200, "OK", nil)
				if req.IsInvite() {
					res.To().Params.Add("tag", "bob1")
					res.AppendHeader(sip.NewHeader("Contact", "<sip:bob@"+r.bob.LocalAddr().String()+">"))
				}
				data := []byte(res.String())
				r.bob.WriteToUDP(data, from)
				if req.IsInvite() {
					r.ok200 <- resent{data, from}
				}
			}
			r.atBob <- req
		}
	}()
	return r
}

// request is a request from alice to bob through the pool, with branch and CSeq seq.
func (r *earlyEndRig) request(method, branch string, seq int) []byte {
	return []byte(fmt.Sprintf("%s sip:bob@pool-a SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=z9hG4bK-%s;rport\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:alice@pool-a>;tag=alice1\r\n"+
		"To: <sip:bob@pool-a>\r\n"+
		"Call-ID: early-end@alice\r\n"+
		"CSeq: %d %s\r\n"+
		"Contact: <sip:alice@%s>\r\n"+
		"Content-Length: 0\r\n\r\n", method, r.alice.LocalAddr(), branch, seq, method, r.alice.LocalAddr()))
}

func (r *earlyEndRig) send(t *testing.T, msg []byte) {
	t.Helper()
	to, err := net.ResolveUDPAddr("udp", r.p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.alice.WriteTo(msg, to); err != nil {
		t.Fatal(err)
	}
}

// answer reads alice's socket until a final answer to CSeq method arrives.
func (r *earlyEndRig) answer(t *testing.T, method string) *sip.Response {
	t.Helper()
	buf := make([]byte, 65535)
	r.alice.SetReadDeadline(r.deadline)
	for {
		n, err := r.alice.Read(buf)
		if err != nil {
			t.Fatalf("alice waited for the final answer to her %s: %v", method, err)
		}
		m, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
		if res, ok := m.(*sip.Response); err == nil && ok && !res.IsProvisional() && string(res.CSeq().MethodName) == method {
			return res
		}
	}
}

// atBobNext is the next request bob's phone got.
func (r *earlyEndRig) atBobNext(t *testing.T, what string) *sip.Request {
	t.Helper()
	select {
	case req := <-r.atBob:
		return req
	case <-time.After(time.Until(r.deadline)):
		t.Fatalf("bob's phone waited for %s", what)
		return nil
	}
}

// TestRetransmissionAfterEarlyEnd: the pool ends a UDP non-INVITE transaction at its
// final answer (earlyend.go); a retransmission read after that gets the same answer
// again, from the pool, and is not forwarded: bob's phone, like SIPp, may have nothing
// left to answer it with.
func TestRetransmissionAfterEarlyEnd(t *testing.T) {
	r := newEarlyEndRig(t)
	msg := r.request("MESSAGE", "early-msg-1", 1)
	r.send(t, msg)
	first := r.answer(t, "MESSAGE")
	if first.StatusCode != 200 {
		t.Fatalf("MESSAGE answered %d, want bob's 200", first.StatusCode)
	}
	r.atBobNext(t, "the MESSAGE")
	r.send(t, msg) // alice did not hear the 200, say, and sends it again
	if again := r.answer(t, "MESSAGE"); again.String() != first.String() {
		t.Fatalf("retransmitted MESSAGE answered\n%s\nwant the first answer again\n%s", again, first)
	}
	// Read in order by one goroutine: the retransmission is dealt with before this is.
	r.send(t, r.request("MESSAGE", "early-msg-2", 2))
	r.answer(t, "MESSAGE")
	if got := r.atBobNext(t, "the second MESSAGE"); got.CSeq().SeqNo != 2 {
		t.Fatalf("bob got CSeq %d after the first MESSAGE, want the second one (2): the retransmission was forwarded", got.CSeq().SeqNo)
	}
}

// TestInviteRetransmissionAbsorbed: after the pool relayed bob's 2xx and ended the
// INVITE's transaction, a retransmission of the INVITE is absorbed (RFC 6026
// Accepted): it reaches neither the pool's handler nor bob.
func TestInviteRetransmissionAbsorbed(t *testing.T) {
	r := newEarlyEndRig(t)
	invite := r.request("INVITE", "early-inv-1", 1)
	r.send(t, invite)
	if res := r.answer(t, "INVITE"); res.StatusCode != 200 {
		t.Fatalf("INVITE answered %d, want bob's 200", res.StatusCode)
	}
	r.atBobNext(t, "the INVITE")
	r.send(t, invite)
	// Read in order by one goroutine: the retransmission is dealt with before this is.
	r.send(t, r.request("MESSAGE", "early-msg-3", 2))
	r.answer(t, "MESSAGE")
	if got := r.atBobNext(t, "the MESSAGE"); !got.IsInvite() && got.Method != sip.MESSAGE {
		t.Fatalf("bob got %s, want the MESSAGE", got.Method)
	} else if got.IsInvite() {
		t.Fatal("the retransmitted INVITE reached bob after its 2xx")
	}
	if n := r.handled.Load(); n != 1 {
		t.Fatalf("%d INVITEs reached the pool's handler, want 1 (the retransmission absorbed)", n)
	}
}

// TestInvite2xxRetransmissionRelayed: bob's phone sends its 200 again (it has no ACK
// yet, RFC 3261 §13.3.1.4); the pool, whose client transaction ended at the first 200
// (releaseAccepted), relays it to alice all the same (§16.7 step 5, onStrayResponse).
func TestInvite2xxRetransmissionRelayed(t *testing.T) {
	r := newEarlyEndRig(t)
	r.send(t, r.request("INVITE", "early-inv-2", 1))
	first := r.answer(t, "INVITE")
	if first.StatusCode != 200 {
		t.Fatalf("INVITE answered %d, want bob's 200", first.StatusCode)
	}
	var ok resent
	select {
	case ok = <-r.ok200:
	case <-time.After(time.Until(r.deadline)):
		t.Fatal("waited for bob's 200")
	}
	// bob sends it again and again, as a phone does until its ACK comes: one sent while
	// the pool was still ending the transaction the first 200 went through is dropped.
	buf := make([]byte, 65535)
	for {
		if time.Now().After(r.deadline) {
			t.Fatal("alice never got bob's retransmitted 200")
		}
		if _, err := r.bob.WriteToUDP(ok.data, ok.to); err != nil {
			t.Fatal(err)
		}
		r.alice.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := r.alice.Read(buf)
		if err != nil {
			continue // nothing yet: send it again
		}
		m, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
		if res, isRes := m.(*sip.Response); err == nil && isRes && res.StatusCode == 200 && res.CSeq().MethodName == sip.INVITE {
			if res.String() != first.String() {
				t.Fatalf("the retransmitted 200 reached alice as\n%s\nwant\n%s", res, first)
			}
			return
		}
	}
}

// TestFinishedTxsKeep: an ended transaction is remembered at least finishedKeep, however
// adds and lookups fall, and while requests keep coming goes within a generation more.
func TestFinishedTxsKeep(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	const span = finishedKeep / (finishedGens - 1)
	for _, step := range []time.Duration{time.Second, 7 * time.Second, span - 1, span, span + 1, 31 * time.Second, 33 * time.Second, 70 * time.Second} {
		var f finishedTxs
		f.add(99, nil, t0.Add(-step/3)) // a generation begun before: 1 comes in its middle
		f.add(1, []byte("SIP/2.0 200 OK"), t0)
		for at := t0.Add(step); at.Sub(t0) <= 4*finishedKeep; at = at.Add(step) {
			age := at.Sub(t0)
			res, has := f.get(1, at)
			if age <= finishedKeep && (!has || string(res) != "SIP/2.0 200 OK") {
				t.Fatalf("step %v: forgotten after %v (%q), want kept %v", step, age, res, finishedKeep)
			}
			if age > finishedKeep+span+step && has {
				t.Fatalf("step %v: still remembered after %v", step, age)
			}
			f.add(uint64(2+age), nil, at) // the traffic that moves the generations on
		}
	}
}
