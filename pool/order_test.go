package pool

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/inorder"
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
