package pool

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/parkway/parkway/internal/devca"
)

// startTLSPair starts the demo pair on free ports with TLS listeners, reaching each
// other over TLS; certA and certB sign each pool's certificate (the same CA normally),
// and both trust trusted.
func startTLSPair(t *testing.T, certA, certB, trusted *devca.CA) (a, b *Pool) {
	t.Helper()
	ca, cb := DemoConfigs("127.0.0.1")
	ca.Listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	cb.Listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	if err := DemoTLS(&ca, &cb, trusted); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		cfg    *Config
		signer *devca.CA
	}{{&ca, certA}, {&cb, certB}} {
		leaf, err := x.signer.Issue(x.cfg.Name, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		x.cfg.TLS.Certificate = &leaf.TLS
	}
	return startPool(t, ca, Options{}), startPool(t, cb, Options{})
}

func newCA(t *testing.T, name string) *devca.CA {
	t.Helper()
	ca, err := devca.New(name, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// The peer link over TLS: alice, authenticated at pool-a, reaches bob registered at
// pool-b; pool-b knows pool-a as its peer by the TLS connection's source and the Via
// naming pool-a's TLS listener, so it neither challenges nor refuses the relayed
// request, and it still challenges the same claim made by anyone else.
func TestPeerLinkOverTLS(t *testing.T) {
	ca := newCA(t, "pair CA")
	pa, pb := startTLSPair(t, ca, ca, ca)
	if pa.TLSAddr() == "" || pb.TLSAddr() == "" {
		t.Fatalf("TLS listeners %q %q", pa.TLSAddr(), pb.TLSAddr())
	}
	ctx := testCtx(t)
	bob := newPhone(t, pb, "bob", "bob-demo", 0)
	registerAll(t, ctx, bob)
	u := newRawUA(t)
	if res, err := u.client.Do(ctx, message(pb, "bob", "alice")); err != nil || res.StatusCode != 407 {
		t.Fatalf("MESSAGE claiming alice straight to pool-b = %v %v, want 407", res, err)
	}
	if res := u.doAuth(t, message(pa, "bob", "alice"), "alice", "alice-demo"); res.StatusCode != 200 {
		t.Fatalf("alice at pool-a to bob at pool-b over the TLS peer link = %d, want 200", res.StatusCode)
	}
	select {
	case <-bob.Messages():
	case <-ctx.Done():
		t.Fatal("bob never got alice's MESSAGE")
	}
}

// A peer whose certificate the pool's CA does not vouch for is not spoken to: the
// request is answered 503 (next hop unreachable, RFC 3261 §16.9) and never delivered.
func TestPeerWithUnknownCertificateRefused(t *testing.T) {
	ca := newCA(t, "pair CA")
	pa, pb := startTLSPair(t, ca, newCA(t, "rogue CA"), ca)
	ctx := testCtx(t)
	bob := newPhone(t, pb, "bob", "bob-demo", 0)
	registerAll(t, ctx, bob)
	u := newRawUA(t)
	if res := u.doAuth(t, message(pa, "bob", "alice"), "alice", "alice-demo"); res.StatusCode != 503 {
		t.Fatalf("to a peer with an untrusted certificate = %d, want 503", res.StatusCode)
	}
	select {
	case m := <-bob.Messages():
		t.Fatalf("bob got %q through a peer link that should not exist", m.Body())
	case <-time.After(200 * time.Millisecond):
	}
}
