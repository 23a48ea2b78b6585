package signaling

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// The welcome lists the user's live calls (json "calls"), which a reconnecting tab
// reconciles its list with; none is no field at all.
func TestWelcomeListsLiveCalls(t *testing.T) {
	frame, err := Encode("", &Welcome{User: "alice", Session: "s1", HeartbeatMillis: 2000, Calls: []string{"c1", "c-2"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(frame), `"calls":["c1","c-2"]`) {
		t.Fatalf("welcome %s does not list its calls as \"calls\"", frame)
	}
	_, m, err := Decode(FromGateway, frame)
	if err != nil {
		t.Fatal(err)
	}
	if w := m.(*Welcome); !slices.Equal(w.Calls, []string{"c1", "c-2"}) {
		t.Fatalf("decoded calls %q", w.Calls)
	}
	none, _ := Encode("", &Welcome{User: "alice"})
	if strings.Contains(string(none), "calls") {
		t.Errorf("a welcome without calls: %s", none)
	}
	for _, bad := range []string{
		`{"v":1,"type":"welcome","data":{"user":"alice","calls":["not a call id"]}}`,
		`{"v":1,"type":"welcome","data":{"user":"alice","calls":[""]}}`,
	} {
		_, _, err := Decode(FromGateway, []byte(bad))
		var e *Error
		if !errors.Is(err, ErrBadField) || !errors.As(err, &e) || e.Field != "calls" {
			t.Errorf("%s: %v, want a bad calls field", bad, err)
		}
	}
}
