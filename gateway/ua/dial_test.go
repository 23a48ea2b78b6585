package ua

import (
	"testing"

	"github.com/parkway/parkway/gateway/dr"
)

// The Manager is what gateway/dr moves users with.
var _ dr.Redirector = (*Manager)(nil)

func TestTargetURI(t *testing.T) {
	p := Pool{Name: "pool-a", Addr: "127.0.0.1:5070"}
	for in, want := range map[string]string{"bob": "sip:bob@pool-a", "7005": "sip:7005@pool-a", "sip:x@10.0.0.1:5060": "sip:x@10.0.0.1:5060"} {
		u, err := targetURI(in, p)
		if err != nil || u.String() != want {
			t.Errorf("targetURI(%q) = %v %v, want %s", in, u.String(), err, want)
		}
	}
	for _, bad := range []string{"", "a b", "bob@x", "<sip:x>"} {
		if _, err := targetURI(bad, p); err == nil {
			t.Errorf("targetURI(%q) accepted", bad)
		}
	}
}
