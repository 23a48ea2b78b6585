package inorder

import (
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// inDialog builds a request of the dialog callID between tags a (From) and b (To).
func inDialog(method sip.RequestMethod, callID, a, b string, seq uint32, branch string) *sip.Request {
	req := sip.NewRequest(method, sip.Uri{Scheme: "sip", Host: "127.0.0.1"})
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "127.0.0.1", Port: 5060, Params: sip.NewParams()}
	via.Params.Add("branch", branch)
	req.AppendHeader(via)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "a", Host: "x"}, Params: sip.NewParams()}
	from.Params.Add("tag", a)
	req.AppendHeader(from)
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "b", Host: "x"}, Params: sip.NewParams()}
	if b != "" {
		to.Params.Add("tag", b)
	}
	req.AppendHeader(to)
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	return req
}

func pending(q *Queue, req *sip.Request) int {
	k, _ := keyOf(req)
	q.mu.Lock()
	defer q.mu.Unlock()
	if d := q.dialogs[k]; d != nil {
		return len(d.pending)
	}
	return 0
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLaterRequestWaitsForEarlier: the REFER read after an ACK reaches its handler
// first (as sipgo's goroutines allow), yet is acted on only after the ACK finished —
// also when it travels the other way in the dialog (tags swapped).
func TestLaterRequestWaitsForEarlier(t *testing.T) {
	q := New(Options{MaxWait: time.Hour})
	ack := inDialog(sip.ACK, "c1", "ta", "tb", 1, "z9hG4bK-ack")
	refer := inDialog(sip.REFER, "c1", "tb", "ta", 2, "z9hG4bK-refer")
	q.Arrived(ack)
	q.Arrived(refer)

	var mu sync.Mutex
	var order []string
	log := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	referDone := make(chan struct{})
	go func() {
		defer close(referDone)
		done := q.Turn(refer)
		log("REFER")
		done()
	}()
	waitUntil(t, "REFER handler waiting for its turn", func() bool { return q.Waiting() == 1 })
	done := q.Turn(ack)
	log("ACK")
	done()
	<-referDone
	if len(order) != 2 || order[0] != "ACK" || order[1] != "REFER" {
		t.Fatalf("handled in order %v, want [ACK REFER]", order)
	}
}

// TestRetransmissionsAndNon2xxACKNotQueued: a request read twice is queued once, and a
// CANCEL and the ACK for a non-2xx answer (the INVITE's branch) are left to sipgo's
// transaction layer; none of them holds up the requests after it.
func TestRetransmissionsAndNon2xxACKNotQueued(t *testing.T) {
	q := New(Options{MaxWait: time.Hour})
	reinvite := inDialog(sip.INVITE, "c2", "ta", "tb", 5, "z9hG4bK-inv")
	ack := inDialog(sip.ACK, "c2", "ta", "tb", 5, "z9hG4bK-inv")
	bye := inDialog(sip.BYE, "c2", "ta", "tb", 6, "z9hG4bK-bye")
	q.Arrived(reinvite)
	q.Arrived(reinvite)
	if n := pending(q, reinvite); n != 1 {
		t.Fatalf("%d queued after a retransmission, want 1", n)
	}
	done := q.Turn(reinvite)
	done()
	q.Arrived(reinvite) // retransmitted after it was answered
	q.Arrived(inDialog(sip.CANCEL, "c2", "ta", "tb", 5, "z9hG4bK-inv"))
	q.Arrived(ack)
	q.Arrived(bye)
	if n := pending(q, bye); n != 1 {
		t.Fatalf("%d queued, want only the BYE", n)
	}
	q.Turn(bye)() // would block for MaxWait (an hour) behind anything left queued
}

// TestDialogForgotten: once a BYE in a dialog finished nothing more is queued in it, and
// its record leaves after IdleTTL without requests, as an idle one does; out-of-dialog
// requests are never tracked.
func TestDialogForgotten(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	q := New(Options{MaxWait: time.Hour, IdleTTL: time.Minute, Now: clock})

	q.Arrived(inDialog(sip.INVITE, "c3", "ta", "", 1, "z9hG4bK-1"))
	if q.Len() != 0 {
		t.Fatal("an out-of-dialog request was tracked")
	}
	bye := inDialog(sip.BYE, "c3", "ta", "tb", 2, "z9hG4bK-2")
	q.Arrived(bye)
	q.Turn(bye)()
	// Ended: the BYE's retransmission (which sipgo's transaction absorbs) and anything
	// later are not queued, so nobody waits for them.
	q.Arrived(bye)
	q.Arrived(inDialog(sip.BYE, "c3", "tb", "ta", 1, "z9hG4bK-other-side"))
	if n := pending(q, bye); n != 0 {
		t.Fatalf("%d queued after the BYE, want 0", n)
	}

	info := inDialog(sip.INFO, "c4", "ta", "tb", 2, "z9hG4bK-3")
	q.Arrived(info)
	q.Turn(info)()
	if q.Len() != 2 {
		t.Fatalf("%d dialogs, want 2 (one ended, one idle)", q.Len())
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	q.Arrived(inDialog(sip.INFO, "c5", "ta", "tb", 2, "z9hG4bK-4"))
	if q.Len() != 1 {
		t.Fatalf("%d dialogs after the ended and the idle one expired, want 1 (the new one)", q.Len())
	}
}

// TestBounded: beyond MaxDialogs and MaxPending requests are not tracked (and not held),
// and a request that arrived but never reaches a handler holds its successors for
// MaxWait only.
func TestBounded(t *testing.T) {
	q := New(Options{MaxDialogs: 1, MaxPending: 2, MaxWait: 10 * time.Millisecond})
	a1 := inDialog(sip.INFO, "d1", "ta", "tb", 1, "z9hG4bK-a1")
	a2 := inDialog(sip.INFO, "d1", "ta", "tb", 2, "z9hG4bK-a2")
	a3 := inDialog(sip.INFO, "d1", "ta", "tb", 3, "z9hG4bK-a3")
	b1 := inDialog(sip.INFO, "d2", "ta", "tb", 1, "z9hG4bK-b1")
	for _, r := range []*sip.Request{a1, a2, a3, b1} {
		q.Arrived(r)
	}
	if q.Len() != 1 || pending(q, a1) != 2 {
		t.Fatalf("%d dialogs, %d pending; want 1 and 2", q.Len(), pending(q, a1))
	}
	q.Turn(b1)() // untracked: not held
	q.Turn(a3)() // untracked: not held
	// a1 never reaches its handler (a transaction took it): a2 goes after MaxWait.
	q.Turn(a2)()
}

// TestRequestWaitsForResponse: a proxy read a 202 and then the NOTIFY sent after it;
// the NOTIFY goes only once the 202 was relayed. A 100 Trying is never waited for.
func TestRequestWaitsForResponse(t *testing.T) {
	q := New(Options{MaxWait: time.Hour})
	refer := inDialog(sip.REFER, "r1", "ta", "tb", 2, "z9hG4bK-refer")
	accepted := sip.NewResponseFromRequest(refer, 202, "Accepted", nil)
	trying := sip.NewResponseFromRequest(refer, 100, "Trying", nil)
	notify := inDialog(sip.NOTIFY, "r1", "tb", "ta", 1, "z9hG4bK-notify")
	q.ArrivedResponse(trying)
	q.ArrivedResponse(accepted)
	q.ArrivedResponse(accepted) // a retransmission
	q.Arrived(notify)
	if n := pending(q, notify); n != 2 {
		t.Fatalf("%d queued, want the 202 and the NOTIFY", n)
	}
	notified := make(chan struct{})
	go func() {
		q.Turn(notify)()
		close(notified)
	}()
	waitUntil(t, "NOTIFY waiting for the 202", func() bool { return q.Waiting() == 1 })
	q.Relayed(trying) // never recorded: no effect
	q.Relayed(accepted)
	<-notified
	if q.Waiting() != 0 || pending(q, notify) != 0 {
		t.Fatalf("%d waiting, %d pending after the 202 was relayed", q.Waiting(), pending(q, notify))
	}
}

// scanned is Scan of req as sipgo writes it.
func scanned(t *testing.T, m sip.Message) Scanned {
	t.Helper()
	s, ok := Scan([]byte(m.String()))
	if !ok {
		t.Fatalf("Scan cannot read\n%s", m)
	}
	return s
}

// TestPass: a request passes (is relayed at once, outside the Queue) only when nothing
// of its dialog that arrived before it is in flight, and not when the Queue ordered it
// already (its retransmission) or the INVITE its ACK belongs to; a request passed
// passes again when retransmitted, whatever is in flight by then.
func TestPass(t *testing.T) {
	q := New(Options{})
	notify := inDialog(sip.NOTIFY, "c1", "a", "b", 1, "z9hG4bK-n1")
	if !q.Pass(scanned(t, notify)) {
		t.Fatal("a request of an idle dialog did not pass")
	}
	// A response read and not yet relayed holds the next request.
	res := sip.NewResponseFromRequest(inDialog(sip.REFER, "c1", "b", "a", 7, "z9hG4bK-r7"), 202, "Accepted", nil)
	q.ArrivedScanned(scanned(t, res))
	bye := inDialog(sip.BYE, "c1", "a", "b", 2, "z9hG4bK-b2")
	if q.Pass(scanned(t, bye)) {
		t.Fatal("a request passed while a response read before it waits to be relayed")
	}
	if !q.Pass(scanned(t, notify)) {
		t.Fatal("the retransmission of a request passed did not pass")
	}
	q.Relayed(res)
	// Ordered by the Queue, a request's retransmission is its transaction's.
	q.Arrived(bye)
	q.Turn(bye)()
	if q.Pass(scanned(t, bye)) {
		t.Fatal("the retransmission of a request the Queue ordered passed")
	}
	if !q.Pass(scanned(t, inDialog(sip.NOTIFY, "c1", "a", "b", 3, "z9hG4bK-n3"))) {
		t.Fatal("a new request after the ordered one finished did not pass")
	}
	// The ACK of a re-INVITE the Queue ordered (a non-2xx's ACK shares its branch).
	reinvite := inDialog(sip.INVITE, "c2", "a", "b", 4, "z9hG4bK-i4")
	q.Arrived(reinvite)
	q.Turn(reinvite)()
	if q.Pass(scanned(t, inDialog(sip.ACK, "c2", "a", "b", 4, "z9hG4bK-i4"))) {
		t.Fatal("the ACK of an INVITE the Queue ordered passed")
	}
	if q.Pass(scanned(t, res)) {
		t.Fatal("a response passed")
	}
}
