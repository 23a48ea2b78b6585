package pool

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestOptionsHealth(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	u := newRawUA(t)
	host, port, _ := sip.ParseAddr(p.Addr())
	options := func() int {
		req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: host, Port: port})
		res, err := u.client.Do(testCtx(t), req)
		if err != nil {
			t.Fatalf("OPTIONS: %v", err)
		}
		return res.StatusCode
	}
	if got := options(); got != 200 {
		t.Fatalf("OPTIONS while serving = %d, want 200", got)
	}
	p.Drain()
	if got := options(); got != 503 {
		t.Fatalf("OPTIONS while draining = %d, want 503", got)
	}
}

func TestRegisterDigest(t *testing.T) {
	p := startPool(t, testConfig("pool-a", Range{Start: "7000", End: "7099"}), Options{})
	u := newRawUA(t)
	contact := "<sip:alice@" + u.addr + ">"

	res, err := u.client.Do(testCtx(t), registerReq(p, "alice", contact, 300))
	if err != nil || res.StatusCode != 401 {
		t.Fatalf("REGISTER without credentials = %v %v, want 401", res, err)
	}
	chals := res.GetHeaders("WWW-Authenticate")
	if len(chals) != 2 || !strings.Contains(chals[0].Value(), "SHA-256") || !strings.Contains(chals[1].Value(), "MD5") {
		t.Fatalf("challenges = %v, want SHA-256 then MD5", chals)
	}

	res = u.doAuth(t, registerReq(p, "alice", contact, 300), "alice", "wrong")
	if res.StatusCode != 403 {
		t.Fatalf("REGISTER with wrong password = %d, want 403", res.StatusCode)
	}
	res = u.doAuth(t, registerReq(p, "alice", contact, 300), "alice", "alice-pw")
	if res.StatusCode != 200 {
		t.Fatalf("REGISTER = %d, want 200", res.StatusCode)
	}
	if got := p.Contacts("alice"); len(got) != 1 || !strings.Contains(got[0], u.addr) {
		t.Fatalf("contacts = %v", got)
	}
}
