package ua

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/parkway/parkway/pool"
	"github.com/parkway/parkway/signaling"
)

// recordSink keeps the latest record of every call, as a cluster's bucket would.
type recordSink struct {
	mu      sync.Mutex
	recs    map[string]DialogRecord
	dropped map[string]bool
}

func newRecordSink() *recordSink {
	return &recordSink{recs: map[string]DialogRecord{}, dropped: map[string]bool{}}
}

func (s *recordSink) Save(r DialogRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs[r.ID] = r
}

func (s *recordSink) Drop(_, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.recs, id)
	s.dropped[id] = true
}

func (s *recordSink) get(id string) (DialogRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[id]
	return r, ok
}

// TestAdoptCarriesOnACall: alice's call to bob is written out by her gateway (m1);
// another gateway (m2) adopts it from the record alone, with a re-INVITE in the same
// dialog, and then the call is m2's: audio flows between bob and m2's leg, bob's own
// in-dialog requests (hold) reach m2, and m2's hang-up ends bob's call.
func TestAdoptCarriesOnACall(t *testing.T) {
	ps := startPools(t, demoUsers, pool.Options{})
	cfg := ps.config(demoUsers)
	// bob's gateway first, so it closes last: m1 still holds alice's call when the test
	// ends and its goodbye (a BYE to bob, answered 481) needs bob's gateway there, or it
	// waits out the request timeout (10 s) in the cleanup.
	m3 := newManager(t, cfg)
	m1, m2 := newManager(t, cfg), newManager(t, cfg)
	sink := newRecordSink()
	m1.SetDialogSink(sink)
	ctx := testCtx(t)
	alice, bob := signIn(t, m1, "alice"), signIn(t, m3, "bob")
	al, bl := newTestLeg(t, 440), newTestLeg(t, 660)
	dialed := make(chan error, 1)
	var ac *Call
	go func() {
		var err error
		ac, err = alice.Dial(ctx, "bob", al)
		dialed <- err
	}()
	bc, err := nextIncoming(t, bob).Answer(ctx, bl)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-dialed; err != nil {
		t.Fatal(err)
	}
	nextEvent(t, alice, signaling.CallActive, "")
	var rec DialogRecord
	eventually(t, "alice's call written out", func() bool {
		var ok bool
		rec, ok = sink.get(ac.ID())
		return ok
	})
	// The record goes through JSON in a cluster.
	b, _ := json.Marshal(rec)
	var back DialogRecord
	if err := json.Unmarshal(b, &back); err != nil || back.CallID != rec.CallID || back.Dir != rec.Dir {
		t.Fatalf("record round trip: %v %+v", err, back)
	}
	if back.State != signaling.CallActive || back.RemoteRTP != bl.LocalRTP().String() || back.LocalTag == "" || back.RemoteTag == "" {
		t.Fatalf("record %+v", back)
	}

	alice2 := signIn(t, m2, "alice")
	nl := newTestLeg(t, 880)
	c2, err := alice2.Adopt(ctx, back, nl)
	if err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	if c2.ID() != ac.ID() {
		t.Fatalf("adopted call id %s, want %s", c2.ID(), ac.ID())
	}
	nextEvent(t, alice2, signaling.CallActive, ReasonAdopted)
	if _, err := alice2.Adopt(ctx, back, nl); !errors.Is(err, ErrAdopted) {
		t.Fatalf("adopting the same call twice: %v, want ErrAdopted", err)
	}
	eventually(t, "bob hears the adopter", func() bool { return bl.From(nl.LocalRTP()) > 10 })
	eventually(t, "the adopter hears bob", func() bool { return nl.From(bl.LocalRTP()) > 10 })
	if err := bc.Hold(ctx); err != nil {
		t.Fatalf("bob holds the adopted call: %v", err)
	}
	nextEvent(t, alice2, signaling.CallActive, "held by the other party")
	if err := c2.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, bob, signaling.CallEnded, "hung up")
}

// TestDialogRecordCheck refuses records that cannot be adopted, saying why.
func TestDialogRecordCheck(t *testing.T) {
	good := DialogRecord{ID: "c1", User: "alice", State: signaling.CallActive, CallID: "x@y", LocalURI: "sip:alice@pool-a",
		LocalTag: "a", RemoteURI: "sip:bob@pool-a", RemoteTag: "b", RemoteTarget: "sip:bob@127.0.0.1:5060",
		RemoteRTP: "127.0.0.1:4000", Payload: PayloadPCMU}
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*DialogRecord){
		"ringing":    func(r *DialogRecord) { r.State = signaling.CallRinging },
		"no tag":     func(r *DialogRecord) { r.RemoteTag = "" },
		"bad target": func(r *DialogRecord) { r.RemoteTarget = "sip:" },
		"bad rtp":    func(r *DialogRecord) { r.RemoteRTP = "127.0.0.1" },
		"not g711":   func(r *DialogRecord) { r.Payload = 9 },
	} {
		r := good
		edit(&r)
		if err := r.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
