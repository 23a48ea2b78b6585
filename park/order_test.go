package park

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/sip/audiosdp"
)

// TestInDialogRequestsInArrivalOrder: the parked party ACKs the park service's 200 and
// hangs up at once. sipgo runs the two on goroutines of their own, and here the ACK's
// goroutine loses the race (testBeforeTurn holds it until the BYE was answered, or is
// held waiting for its turn). The BYE must still be acted on after the ACK: the call
// was parked, then the parked party hung up — not a park that never happened.
func TestInDialogRequestsInArrivalOrder(t *testing.T) {
	ctx := testCtx(t)
	s, err := New(defaultConfig(), Options{TestPickupTimeout: 60e9})
	if err != nil {
		t.Fatal(err)
	}
	var byeAnswered atomic.Bool
	s.testBeforeTurn = func(req *sip.Request) {
		if req.Method != sip.ACK {
			return
		}
		for !byeAnswered.Load() && s.orderWaiting() == 0 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	events, stop := s.Events()
	defer stop()

	raw := newRawUDP(t, s.Addr())
	la := raw.conn.LocalAddr().(*net.UDPAddr)
	offer := audiosdp.Build(&net.UDPAddr{IP: la.IP, Port: 40000}, 1, 0)
	head := func(method string, seq int, toTag, branch string) string {
		to := fmt.Sprintf("<sip:park@%s>", s.Addr())
		if toTag != "" {
			to += ";tag=" + toTag
		}
		return fmt.Sprintf("%s sip:park@%s SIP/2.0\r\n"+
			"Via: SIP/2.0/UDP %s;branch=z9hG4bK%s\r\n"+
			"Max-Forwards: 70\r\n"+
			"From: <sip:bob@127.0.0.1>;tag=bob1\r\n"+
			"To: %s\r\n"+
			"Call-ID: order-test@raw\r\n"+
			"CSeq: %d %s\r\n"+
			"Contact: <sip:bob@%s>\r\n", method, s.Addr(), la, branch, to, seq, method, la)
	}
	invite := head("INVITE", 1, "", "inv") + fmt.Sprintf("Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", len(offer), offer)
	res := raw.roundTrip(t, ctx, invite)
	if !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Fatalf("park INVITE answered %q", firstLine(res))
	}
	m := regexp.MustCompile(`(?m)^To: .*;tag=([^;\r]+)`).FindStringSubmatch(res)
	if m == nil {
		t.Fatalf("200 without a To tag:\n%s", res)
	}
	// ACK and BYE back to back, as a phone whose user hangs up at once sends them.
	raw.send(t, head("ACK", 1, m[1], "ack")+"Content-Length: 0\r\n\r\n")
	raw.send(t, head("BYE", 2, m[1], "bye")+"Content-Length: 0\r\n\r\n")
	for {
		res = raw.roundTrip(t, ctx, "")
		if strings.Contains(res, "CSeq: 2 BYE") {
			byeAnswered.Store(true)
			break
		}
	}
	if !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Fatalf("BYE answered %q", firstLine(res))
	}
	var states []parkwire.State
	for len(states) < 2 {
		select {
		case e := <-events:
			states = append(states, e.Call.State)
		case <-ctx.Done():
			t.Fatalf("events %v, want [parked disconnected]", states)
		}
	}
	if states[0] != parkwire.StateParked || states[1] != parkwire.StateDisconnected {
		t.Fatalf("events %v, want [parked disconnected]", states)
	}
}

// orderWaiting is how many requests wait for their turn in the running service.
func (s *Service) orderWaiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run == nil {
		return 0
	}
	return s.run.order.Waiting()
}
