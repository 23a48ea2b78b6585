package siptest

import (
	"context"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/sip/transfer"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// answerNext answers the next incoming call of p in the background.
func answerNext(t *testing.T, ctx context.Context, p *Phone) <-chan *Call {
	out := make(chan *Call, 1)
	go func() {
		select {
		case c := <-p.Incoming():
			if err := c.Answer(ctx); err != nil {
				t.Errorf("answer: %v", err)
			}
			out <- c
		case <-ctx.Done():
			close(out)
		}
	}()
	return out
}

// waitTone polls until m hears freq: tests wait for events, never on a timer.
func waitTone(t *testing.T, ctx context.Context, m *Media, freq float64) {
	t.Helper()
	for !m.HeardTone(freq) {
		select {
		case <-ctx.Done():
			t.Fatalf("never heard %v Hz (level %.2f, %d packets)", freq, m.Level(freq), m.Packets())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestCallBothWaysAudio(t *testing.T) {
	ctx := ctxT(t)
	a := NewPhone(t, PhoneOptions{User: "alice", ToneHz: 440})
	b := NewPhone(t, PhoneOptions{User: "bob", ToneHz: 1000})
	got := answerNext(t, ctx, b)
	ca, err := a.Call(ctx, b.URI())
	if err != nil {
		t.Fatal(err)
	}
	cb := <-got
	waitTone(t, ctx, ca.Media(), 1000)
	waitTone(t, ctx, cb.Media(), 440)
	if ca.Media().HeardTone(440) {
		t.Error("alice hears her own tone")
	}
	if err := ca.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cb.Done():
	case <-ctx.Done():
		t.Fatal("bob's call did not end on BYE")
	}
}

func TestRejectIsResponseError(t *testing.T) {
	ctx := ctxT(t)
	a := NewPhone(t, PhoneOptions{User: "alice"})
	b := NewPhone(t, PhoneOptions{User: "bob"})
	go func() {
		c := <-b.Incoming()
		_ = c.Reject(ctx, 486, "Busy Here")
	}()
	_, err := a.Call(ctx, b.URI())
	if Status(err) != 486 {
		t.Fatalf("err = %v, want 486", err)
	}
}

// Blind transfer: alice refers bob to carol; bob follows and carol hears bob.
func TestBlindTransfer(t *testing.T) {
	ctx := ctxT(t)
	a := NewPhone(t, PhoneOptions{User: "alice", ToneHz: 440})
	b := NewPhone(t, PhoneOptions{User: "bob", ToneHz: 1000})
	c := NewPhone(t, PhoneOptions{User: "carol", ToneHz: 660})
	gotB := answerNext(t, ctx, b)
	ab, err := a.Call(ctx, b.URI())
	if err != nil {
		t.Fatal(err)
	}
	ba := <-gotB
	gotC := answerNext(t, ctx, c)
	code, err := ab.Refer(ctx, c.URI())
	if err != nil || code != 200 {
		t.Fatalf("refer: %d %v", code, err)
	}
	cb := <-gotC
	if rb := cb.Header("Referred-By"); rb == "" {
		t.Error("transferred INVITE lacks Referred-By")
	}
	bc, err := ba.Successor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = ab.Hangup(ctx)
	waitTone(t, ctx, cb.Media(), 1000)
	waitTone(t, ctx, bc.Media(), 660)
}

// Attended-style takeover: carol's INVITE with Replaces ends alice↔bob on
// bob's side and connects carol and bob.
func TestReplaces(t *testing.T) {
	ctx := ctxT(t)
	a := NewPhone(t, PhoneOptions{User: "alice", ToneHz: 440})
	b := NewPhone(t, PhoneOptions{User: "bob", ToneHz: 1000})
	c := NewPhone(t, PhoneOptions{User: "carol", ToneHz: 660})
	gotB := answerNext(t, ctx, b)
	ab, err := a.Call(ctx, b.URI())
	if err != nil {
		t.Fatal(err)
	}
	ba := <-gotB
	r := transfer.Replaces{CallID: ba.CallID(), ToTag: ba.LocalTag(), FromTag: ba.RemoteTag()}
	cb, err := c.Call(ctx, b.URI(), sip.NewHeader("Replaces", r.String()))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ab.Done():
	case <-ctx.Done():
		t.Fatal("replaced call not ended")
	}
	next, err := ba.Successor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitTone(t, ctx, cb.Media(), 1000)
	waitTone(t, ctx, next.Media(), 660)

	// A Replaces that matches nothing is 481 (RFC 3891 §3).
	bad := transfer.Replaces{CallID: "nope", ToTag: "x", FromTag: "y"}
	if _, err := c.Call(ctx, b.URI(), sip.NewHeader("Replaces", bad.String())); Status(err) != 481 {
		t.Fatalf("unmatched Replaces: %v, want 481", err)
	}
}

func TestCallOverTCP(t *testing.T) {
	ctx := ctxT(t)
	a := NewPhone(t, PhoneOptions{User: "alice", ToneHz: 440, Transport: "tcp"})
	b := NewPhone(t, PhoneOptions{User: "bob", ToneHz: 1000, Transport: "tcp"})
	got := answerNext(t, ctx, b)
	ca, err := a.Call(ctx, b.URI()+";transport=tcp")
	if err != nil {
		t.Fatal(err)
	}
	cb := <-got
	if tp := cb.Request().Transport(); tp != "TCP" {
		t.Errorf("INVITE arrived over %s", tp)
	}
	waitTone(t, ctx, ca.Media(), 1000)
	waitTone(t, ctx, cb.Media(), 440)
	if err := cb.Hangup(ctx); err != nil { // the callee's BYE goes to the caller's TCP contact
		t.Fatal(err)
	}
	<-ca.Done()
}
