package ua

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/internal/devca"
	"github.com/parkway/parkway/pool"
	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/siptest"
)

// tlsPools starts the pool pair with TLS listeners and certificates from a throw-away
// CA, each reaching its peer over TLS, and returns the CA.
func tlsPools(t *testing.T) (pools, *devca.CA) {
	t.Helper()
	ca, err := devca.New("parkway test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ps := startPoolsWith(t, demoUsers, pool.Options{}, func(a, b *pool.Config) {
		if err := pool.DemoTLS(a, b, ca); err != nil {
			t.Fatal(err)
		}
	})
	return ps, ca
}

// tlsConfig is ps.config with both pools reached on their TLS listeners only, trusting
// roots: nothing reaches a pool unless it goes over TLS (no UDP listens there).
func (ps pools) tlsConfig(users []pool.User, roots *x509.CertPool) Config {
	cfg := ps.config(users)
	cfg.Pools[0].Addr, cfg.Pools[0].Transport = ps.a.TLSAddr(), "TLS"
	cfg.Pools[1].Addr, cfg.Pools[1].Transport = ps.b.TLSAddr(), "TLS"
	cfg.TLS = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return cfg
}

// The gateway talks to the pools over TLS only, and the pools to each other: sign-in
// (REGISTER), a call through pool-a's proxy, a park and its feed (SUBSCRIBE), a
// redirect to pool-b, and a retrieve from pool-b of the call parked on pool-a, which
// pool-b proxies to its peer over TLS, where pool-a knows it as its peer.
func TestCallParkAndRetrieveOverTLS(t *testing.T) {
	checkNoLeaks(t)
	ps, ca := tlsPools(t)
	m := newManager(t, ps.tlsConfig(demoUsers, ca.Pool()))
	ctx := testCtx(t)
	w, err := m.WatchParked(ctx, "pool-a", nil)
	if err != nil {
		t.Fatalf("watch pool-a's parked calls over TLS: %v", err)
	}
	defer w.Close()
	alice, bob, ac, bc, _, bl := callPair(t, m)
	carol := signIn(t, m, "carol")
	orbit, err := ac.Park(ctx, "")
	if err != nil || orbit != "7000" {
		t.Fatalf("Park over TLS: orbit %q, %v", orbit, err)
	}
	nextEvent(t, alice, signaling.CallEnded, "parked")
	nextEvent(t, bob, signaling.CallActive, "parked")
	eventually(t, "the watcher lists the parked call", func() bool { return len(w.List().Parked) == 1 })

	if err := m.Redirect(ctx, "pool-b"); err != nil {
		t.Fatalf("redirect to pool-b over TLS: %v", err)
	}
	if p, ok := carol.Registered(); !ok || p.Name != "pool-b" {
		t.Fatalf("carol registered at %v %v, want pool-b", p.Name, ok)
	}
	cl := newTestLeg(t, 880)
	cc, err := carol.Dial(ctx, orbit, cl)
	if err != nil {
		t.Fatalf("carol (at pool-b) retrieves pool-a's orbit through the peer link: %v", err)
	}
	nextEvent(t, bob, signaling.CallActive, "transferred")
	eventually(t, "carol hears bob", func() bool { return cl.From(bl.LocalRTP()) > 10 })
	if err := cc.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	<-bc.Done()
}

// A pool whose certificate comes from a CA the gateway does not trust is refused at
// the TLS handshake, and the error says so; nothing is sent to it in the clear.
func TestTLSPoolFromUnknownCARefused(t *testing.T) {
	checkNoLeaks(t)
	ps, _ := tlsPools(t)
	other, err := devca.New("some other CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ps.tlsConfig(demoUsers, other.Pool())
	cfg.RequestTimeout = 5 * time.Second
	m := newManager(t, cfg)
	_, err = m.SignIn(testCtx(t), "alice")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) && !strings.Contains(fmtErr(err), "certificate signed by unknown authority") {
		t.Fatalf("SignIn at a pool with an untrusted certificate: %v, want x509: certificate signed by unknown authority", err)
	}
	if !strings.Contains(fmtErr(err), "TLS handshake") {
		t.Errorf("error %q does not say it was the TLS handshake", fmtErr(err))
	}
	if len(ps.a.Contacts("alice")) != 0 {
		t.Fatal("alice got registered through an untrusted TLS connection")
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// With TLS on, UDP and TCP stay open for SIP phones and SIPp: a UDP phone and a TCP
// phone register at pool-a's plain listener and call a gateway user who is registered
// over TLS, and the gateway user calls the TCP phone.
func TestPlainTransportsStillServedBesideTLS(t *testing.T) {
	checkNoLeaks(t)
	ps, ca := tlsPools(t)
	m := newManager(t, ps.tlsConfig(demoUsers, ca.Pool()))
	ctx := testCtx(t)
	alice := signIn(t, m, "alice")
	for _, transport := range []string{"udp", "tcp"} {
		user := map[string]string{"udp": "carol", "tcp": "dave"}[transport]
		pw := map[string]string{"udp": "carol-pw", "tcp": "dave-pw"}[transport]
		phone := siptest.NewPhone(t, siptest.PhoneOptions{User: user, Password: pw, Domain: ps.a.Domain(), Proxy: ps.a.Addr(), Transport: transport, ToneHz: 350})
		if _, err := phone.Register(ctx, time.Hour); err != nil {
			t.Fatalf("%s phone Register at %s: %v", transport, ps.a.Addr(), err)
		}
		type result struct {
			c   *siptest.Call
			err error
		}
		done := make(chan result, 1)
		go func() {
			c, err := phone.Call(ctx, "sip:alice@"+ps.a.Domain())
			done <- result{c, err}
		}()
		in := nextIncoming(t, alice)
		ac, err := in.Answer(ctx, newTestLeg(t, 440))
		if err != nil {
			t.Fatalf("alice answers the %s phone: %v", transport, err)
		}
		r := <-done
		if r.err != nil {
			t.Fatalf("%s phone calls alice: %v", transport, r.err)
		}
		eventually(t, transport+" phone hears alice", func() bool { return r.c.Media().HeardTone(440) })
		if err := ac.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		<-r.c.Done()
	}
}
