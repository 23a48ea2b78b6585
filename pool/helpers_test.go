package pool

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/internal/freeport"
)

// testLogger is quiet unless POOL_TEST_LOG=1.
func testLogger() *slog.Logger {
	if os.Getenv("POOL_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func init() {
	// sipgo logs through its own default logger in a few places.
	sip.SetDefaultLogger(testLogger())
	sip.SIPDebug = os.Getenv("POOL_TEST_SIP") == "1"
}

var demoUsers = []User{{Name: "alice", Password: "alice-pw"}, {Name: "bob", Password: "bob-pw"}, {Name: "carol", Password: "carol-pw"}, {Name: "dave", Password: "dave-pw"}}

func testConfig(name string, orbits Range) Config {
	return Config{
		Name:   name,
		Listen: "127.0.0.1:0",
		Users:  append([]User(nil), demoUsers...),
		Park:   ParkConfig{Orbits: []Range{orbits}, PickupTimeout: 30 * time.Second, MaxPickupAttempts: 1},
	}
}

// startPool builds and starts a pool and stops it when the test ends.
func startPool(t testing.TB, cfg Config, opt Options) *Pool {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = testLogger()
	}
	p, err := New(cfg, opt)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { p.Stop() })
	return p
}

// rawUA is a bare sipgo client on its own UDP socket, for requests the test phone would
// not send (bad credentials, odd expiries, malformed input).
type rawUA struct {
	ua     *sipgo.UserAgent
	srv    *sipgo.Server // takes requests sent to addr
	client *sipgo.Client
	addr   string
}

func newRawUA(t testing.TB) *rawUA {
	t.Helper()
	return newRawUAAt(t, "127.0.0.1")
}

// newRawUAAt is newRawUA on loopback address ip (any of 127.0.0.0/8): another source
// address, for limits kept per source IP.
func newRawUAAt(t testing.TB, ip string) *rawUA {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("pooltest"), sipgo.WithUserAgentHostname(ip))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	// The client binds its TCP connections to this UDP port too
	// (WithClientConnectionAddr), so the port comes from outside the kernel's ephemeral
	// range: an ephemeral UDP port's number could be any other socket's TCP port, and
	// the dial then fails "bind: address already in use" (seen in a CI run).
	port, err := freeport.UDPAndTCP(ip, freeport.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	la := conn.LocalAddr().(*net.UDPAddr)
	go srv.ServeUDP(conn)
	waitListening(t, ua, la.String())
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname(ip), sipgo.WithClientPort(la.Port), sipgo.WithClientConnectionAddr(la.String()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); ua.Close() })
	return &rawUA{ua: ua, srv: srv, client: client, addr: la.String()}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// register builds a REGISTER for user at pool p with the given Contact and Expires.
func registerReq(p *Pool, user, contact string, expires int) *sip.Request {
	host, port, _ := sip.ParseAddr(p.Addr())
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: host, Port: port})
	aor := sip.Uri{Scheme: "sip", User: user, Host: p.Domain()}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor})
	if contact != "" {
		req.AppendHeader(sip.NewHeader("Contact", contact))
	}
	if expires >= 0 {
		e := sip.ExpiresHeader(expires)
		req.AppendHeader(&e)
	}
	return req
}

// doAuth sends req and answers one digest challenge with password.
func (u *rawUA) doAuth(t testing.TB, req *sip.Request, user, password string) *sip.Response {
	t.Helper()
	ctx := testCtx(t)
	res, err := u.client.Do(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", req.Method, err)
	}
	if res.StatusCode != 401 && res.StatusCode != 407 {
		return res
	}
	res, err = u.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: password})
	if err != nil {
		t.Fatalf("%s with auth: %v", req.Method, err)
	}
	return res
}

// waitListening waits until sipgo has registered the UDP listener at addr, so requests
// are sent from it (ServeUDP registers it from its own goroutine).
func waitListening(t testing.TB, ua *sipgo.UserAgent, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, _ := ua.TransportLayer().GetConnection("udp", addr); c != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("udp listener %s never registered", addr)
		}
		time.Sleep(time.Millisecond)
	}
}

// freePort returns a loopback port free for both UDP and TCP a moment ago, never the same
// twice in this process. Tests hold it for seconds before a pool or SIPp binds it, so it
// lies outside the kernel's ephemeral range: there no other test's port-0 socket or
// outgoing connection can take it meanwhile (a SIPp run once failed "binding a socket",
// exit 254, on a port picked from that range).
func freePort(t testing.TB) int {
	t.Helper()
	port, err := portPicker.Pick()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// portPicker hands out the ports of this package's tests: outside the ephemeral range,
// never the same one twice.
var portPicker freeport.Picker

// startPair starts the demo pool pair on free ports, each the other's peer.
func startPair(t testing.TB) (a, b *Pool) {
	t.Helper()
	ca, cb := DemoConfigs("127.0.0.1")
	ca.Listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	cb.Listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	ca.Peer.Addr, cb.Peer.Addr = cb.Listen, ca.Listen
	return startPool(t, ca, Options{}), startPool(t, cb, Options{})
}
