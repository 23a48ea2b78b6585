package signaling

import (
	"strings"
	"testing"
)

// The draining message and the call's trace field round-trip, and bad values are
// refused with the field named.
func TestDrainingAndTrace(t *testing.T) {
	b, err := Encode("", &Draining{DeadlineMillis: 30000})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"type":"draining"`) || !strings.Contains(string(b), `"deadlineMs":30000`) {
		t.Fatalf("encoded %s", b)
	}
	_, m, err := Decode(FromGateway, b)
	if d, ok := m.(*Draining); err != nil || !ok || d.DeadlineMillis != 30000 {
		t.Fatalf("decoded %T %+v, %v", m, m, err)
	}
	if _, _, err := Decode(FromClient, b); err == nil {
		t.Error("a client may not send draining")
	}
	if _, _, err := Decode(FromGateway, []byte(`{"v":1,"type":"draining","deadlineMs":-1}`)); err == nil || !strings.Contains(err.Error(), "deadlineMs") {
		t.Errorf("negative deadline: %v", err)
	}

	call := &Call{ID: "c1", State: CallActive, Trace: "0123456789abcdef"}
	b, err = Encode("", call)
	if err != nil {
		t.Fatal(err)
	}
	if _, m, err := Decode(FromGateway, b); err != nil || m.(*Call).Trace != call.Trace {
		t.Fatalf("call with trace: %+v %v", m, err)
	}
	bad := strings.Replace(string(b), call.Trace, "Not-A-Trace", 1)
	if _, _, err := Decode(FromGateway, []byte(bad)); err == nil || !strings.Contains(err.Error(), "trace") {
		t.Errorf("bad trace: %v", err)
	}
}
