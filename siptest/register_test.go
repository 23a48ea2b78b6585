package siptest

import (
	"net"
	"sync"
	"testing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// registrar is a minimal digest-challenging registrar (RFC 3261 §10.3,
// §22.4), enough to check that Phone.Register answers challenges.
type registrar struct {
	addr     string
	mu       sync.Mutex
	bindings map[string]string // AOR user → Contact
	expires  map[string]string
}

func startRegistrar(t *testing.T, user, password string) *registrar {
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &registrar{addr: conn.LocalAddr().String(), bindings: map[string]string{}, expires: map[string]string{}}
	chal := &digest.Challenge{Realm: "test", Nonce: "n0nce", Algorithm: "MD5", QOP: []string{"auth"}}
	srv.OnRegister(func(req *sip.Request, tx sip.ServerTransaction) {
		h := req.GetHeader("Authorization")
		if h == nil {
			res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
			res.AppendHeader(sip.NewHeader("WWW-Authenticate", chal.String()))
			_ = tx.Respond(res)
			return
		}
		cred, err := digest.ParseCredentials(h.Value())
		if err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Authorization", nil))
			return
		}
		want, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: cred.URI, Username: user,
			Password: password, Cnonce: cred.Cnonce, Count: cred.Nc})
		if err != nil || cred.Username != user || want.Response != cred.Response {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
			return
		}
		r.mu.Lock()
		r.bindings[req.To().Address.User] = req.Contact().Address.String()
		r.expires[req.To().Address.User] = headerValue(req, "Expires")
		r.mu.Unlock()
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.ServeUDP(conn) }()
	t.Cleanup(func() { conn.Close(); ua.Close(); <-done })
	return r
}

func TestRegisterWithDigest(t *testing.T) {
	ctx := ctxT(t)
	reg := startRegistrar(t, "alice", "s3cret")
	a := NewPhone(t, PhoneOptions{User: "alice", Password: "s3cret", Domain: "example.test", Proxy: reg.addr})
	if _, err := a.Register(ctx, 60e9); err != nil {
		t.Fatal(err)
	}
	reg.mu.Lock()
	contact, exp := reg.bindings["alice"], reg.expires["alice"]
	reg.mu.Unlock()
	want := a.ContactURI()
	if contact != want.String() || exp != "60" {
		t.Errorf("binding %q expires %q, want %s 60", contact, exp, want.String())
	}
	if a.URI() != "sip:alice@example.test" {
		t.Errorf("AOR %s", a.URI())
	}
	bad := NewPhone(t, PhoneOptions{User: "alice", Password: "wrong", Domain: "example.test", Proxy: reg.addr})
	if _, err := bad.Register(ctx, 60e9); Status(err) != 403 {
		t.Errorf("wrong password: %v, want 403", err)
	}
}
