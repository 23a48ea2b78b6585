package pool

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/sip/inorder"
)

// TestInDialogRequestsRelayedInOrder: alice's phone sends everything to the pool, as
// SIPp does (and as any phone with the pool as outbound proxy would): the ACK of her call
// with bob and, right after it, the REFER that parks him. The ACK's goroutine loses the
// race to the handler (testBeforeTurn holds it until the REFER's handler has started);
// bob must still get the ACK first.
func TestInDialogRequestsRelayedInOrder(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) { testRelayedInOrder(t, network) })
	}
}

func testRelayedInOrder(t *testing.T, network string) {
	ctx := testCtx(t)
	var pool atomic.Pointer[Pool] // the hook runs on sipgo's goroutines
	var referAtBob atomic.Bool
	// The ACK's goroutine loses the race: it goes on only once the REFER was relayed
	// to bob, or is held waiting for its turn behind the ACK.
	hold := func(req *sip.Request) {
		if req.Method != sip.ACK {
			return
		}
		for !referAtBob.Load() && pool.Load().currentOrder().Waiting() == 0 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
	}
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{testBeforeTurn: hold})
	pool.Store(p)

	// bob's phone: a bare UDP socket registered as bob's contact.
	bob, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	u := newRawUA(t)
	if res := u.doAuth(t, registerReq(p, "bob", "<sip:bob@"+bob.LocalAddr().String()+">", 300), "bob", "bob-pw"); res.StatusCode != 200 {
		t.Fatalf("register bob = %d", res.StatusCode)
	}
	got := make(chan string, 2)
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := bob.ReadFromUDP(buf)
			if err != nil {
				return
			}
			m, err := sip.ParseMessage(buf[:n])
			r, ok := m.(*sip.Request)
			if err != nil || !ok {
				continue
			}
			if r.Method == sip.REFER {
				referAtBob.Store(true)
				// Answer, so the pool's transaction ends now rather than at Timer F.
				bob.WriteToUDP([]byte(sip.NewResponseFromRequest(r, 202, "Accepted", nil).String()), from)
			}
			got <- string(r.Method)
		}
	}()

	alice, err := net.Dial(network, p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	req := func(method string, seq int) string {
		return fmt.Sprintf("%s sip:bob@%s SIP/2.0\r\n"+
			"Via: SIP/2.0/%s %s;branch=z9hG4bK-%s-%d;rport\r\n"+
			"Max-Forwards: 70\r\n"+
			"From: <sip:alice@pool-a>;tag=alice1\r\n"+
			"To: <sip:bob@pool-a>;tag=bob1\r\n"+
			"Call-ID: order@alice\r\n"+
			"CSeq: %d %s\r\n"+
			"Contact: <sip:alice@%s>\r\n"+
			"Refer-To: <sip:park@pool-a>\r\n"+
			"Content-Length: 0\r\n\r\n", method, bob.LocalAddr(), strings.ToUpper(network), alice.LocalAddr(), strings.ToLower(method), seq, seq, method, alice.LocalAddr())
	}
	if _, err := alice.Write([]byte(req("ACK", 1))); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Write([]byte(req("REFER", 2))); err != nil {
		t.Fatal(err)
	}
	var order []string
	for len(order) < 2 {
		select {
		case m := <-got:
			order = append(order, m)
		case <-ctx.Done():
			t.Fatalf("bob got %v, then nothing", order)
		}
	}
	if order[0] != "ACK" || order[1] != "REFER" {
		t.Fatalf("bob got %v, want [ACK REFER]", order)
	}
}

// currentOrder is the running node's in-dialog queue.
func (p *Pool) currentOrder() *inorder.Queue {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.node.order
}

// TestResponseNotOvertaken: bob answers alice's REFER with 202 and at once sends the
// NOTIFY that reports on it, both through the pool. The relay of the 202 loses the race
// (testBeforeRelay holds it until the NOTIFY reached alice, or waits for its turn);
// alice must still get the 202 first, as some phones (SIPp among them) insist.
func TestResponseNotOvertaken(t *testing.T) {
	ctx := testCtx(t)
	var pool atomic.Pointer[Pool]
	var notifyAtAlice atomic.Bool
	hold := func(res *sip.Response) {
		if res.StatusCode != 202 {
			return
		}
		for !notifyAtAlice.Load() && pool.Load().currentOrder().Waiting() == 0 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
	}
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{testBeforeRelay: hold})
	pool.Store(p)
	pa, err := net.ResolveUDPAddr("udp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	phone := func(user string) *net.UDPConn {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		u := newRawUA(t)
		if res := u.doAuth(t, registerReq(p, user, "<sip:"+user+"@"+c.LocalAddr().String()+">", 300), user, user+"-pw"); res.StatusCode != 200 {
			t.Fatalf("register %s = %d", user, res.StatusCode)
		}
		return c
	}
	alice, bob := phone("alice"), phone("bob")
	read := func(c *net.UDPConn) sip.Message {
		t.Helper()
		buf := make([]byte, 65535)
		dl, _ := ctx.Deadline()
		c.SetReadDeadline(dl)
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		m, err := sip.ParseMessage(buf[:n])
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		return m
	}

	refer := fmt.Sprintf("REFER sip:bob@%s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=z9hG4bK-refer;rport\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:alice@pool-a>;tag=alice1\r\n"+
		"To: <sip:bob@pool-a>;tag=bob1\r\n"+
		"Call-ID: response-order@alice\r\n"+
		"CSeq: 2 REFER\r\n"+
		"Contact: <sip:alice@%s>\r\n"+
		"Refer-To: <sip:park@pool-a>\r\n"+
		"Content-Length: 0\r\n\r\n", bob.LocalAddr(), alice.LocalAddr(), alice.LocalAddr())
	if _, err := alice.WriteToUDP([]byte(refer), pa); err != nil {
		t.Fatal(err)
	}
	var referAtBob *sip.Request
	for referAtBob == nil {
		if r, ok := read(bob).(*sip.Request); ok && r.Method == sip.REFER {
			referAtBob = r
		}
	}
	accepted := sip.NewResponseFromRequest(referAtBob, 202, "Accepted", nil)
	notify := fmt.Sprintf("NOTIFY sip:alice@%s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=z9hG4bK-notify;rport\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:bob@pool-a>;tag=bob1\r\n"+
		"To: <sip:alice@pool-a>;tag=alice1\r\n"+
		"Call-ID: response-order@alice\r\n"+
		"CSeq: 1 NOTIFY\r\n"+
		"Contact: <sip:bob@%s>\r\n"+
		"Event: refer\r\n"+
		"Subscription-State: active\r\n"+
		"Content-Type: message/sipfrag\r\n"+
		"Content-Length: 16\r\n\r\nSIP/2.0 100 OK\r\n", alice.LocalAddr(), bob.LocalAddr(), bob.LocalAddr())
	if _, err := bob.WriteToUDP([]byte(accepted.String()), pa); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.WriteToUDP([]byte(notify), pa); err != nil {
		t.Fatal(err)
	}

	var got []string
	for len(got) < 2 {
		switch m := read(alice).(type) {
		case *sip.Response:
			if m.StatusCode == 202 {
				got = append(got, "202")
			}
		case *sip.Request:
			if m.Method == sip.NOTIFY && len(got) < 2 {
				notifyAtAlice.Store(true)
				got = append(got, "NOTIFY")
				// Answer, so the pool's transaction ends now.
				res := sip.NewResponseFromRequest(m, 200, "OK", nil)
				alice.WriteToUDP([]byte(res.String()), pa)
			}
		}
	}
	if got[0] != "202" || got[1] != "NOTIFY" {
		t.Fatalf("alice got %v, want [202 NOTIFY]", got)
	}
}
