package park

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/parkway/parkway/internal/freeport"
	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/siptest"
)

// Stop is a crash: no BYE to the parked party, no NOTIFY; Start comes back
// on the same address and parks again.
func TestStopIsAbruptAndStartReuses(t *testing.T) {
	ctx := testCtx(t)
	// A port from outside the ephemeral range: one the kernel picked would be free for
	// any outgoing socket to take while the service is down (it happened under load).
	port, err := freeport.UDPAndTCP("127.0.0.1", freeport.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := startService(t, defaultConfig(), Options{Listen: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))})
	addr := s.Addr()
	p := newParties(t)
	bp, err := parkBob(t, ctx, p, uri(s, parkwire.ParkUser))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "parked", func() bool { return len(s.Parked()) == 1 })
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := s.openStreams.Load(); n != 0 {
		t.Errorf("%d RTP sockets still open after Stop", n)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.Addr() != addr {
		t.Fatalf("restarted on %s, was %s", s.Addr(), addr)
	}
	if len(s.Parked()) != 0 {
		t.Errorf("parked calls survived a crash: %+v", s.Parked())
	}
	// The old parked call is gone without a BYE: bob never got one. We check
	// after a full new park round trip, so any BYE would have arrived.
	dave := siptest.NewPhone(t, siptest.PhoneOptions{User: "dave"})
	c, err := dave.Call(ctx, uri(s, parkwire.ParkUser), referredByHdr(p.alice))
	if err != nil {
		t.Fatal(err)
	}
	if c.Header(parkwire.OrbitHeader) != "7000" {
		t.Errorf("orbit %q after restart, want 7000", c.Header(parkwire.OrbitHeader))
	}
	if bp.Bye() != nil {
		t.Error("Stop sent a BYE to the parked party")
	}
	// The stale dialog is unknown to the new run: its BYE gets 481.
	if err := bp.Hangup(ctx); siptest.Status(err) != 481 && !strings.Contains(fmt.Sprint(err), "481") {
		t.Errorf("BYE on a crashed dialog: %v, want 481", err)
	}
}

func TestMusicPerPool(t *testing.T) {
	ctx := testCtx(t)
	cfg := defaultConfig()
	cfg.MusicFile = "builtin:pool-b"
	s := startService(t, cfg, Options{})
	p := newParties(t)
	bp, err := parkBob(t, ctx, p, uri(s, parkwire.ParkUser))
	if err != nil {
		t.Fatal(err)
	}
	waitTone(t, ctx, bp.Media(), 1000)
	waitTone(t, ctx, bp.Media(), 1200)
	for _, f := range BuiltinMusicHz["pool-a"] {
		if l := bp.Media().Level(f); l > 0.2 {
			t.Errorf("pool-b music has %.2f of its energy at pool-a's %v Hz", l, f)
		}
	}
}

func TestMusicDisabledStillSendsRTP(t *testing.T) {
	ctx := testCtx(t)
	cfg := defaultConfig()
	cfg.DisableMusicOnHold = true
	s := startService(t, cfg, Options{})
	p := newParties(t)
	bp, err := parkBob(t, ctx, p, uri(s, parkwire.ParkUser))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "RTP", func() bool { return bp.Media().Packets() > 25 })
	for _, f := range []float64{440, 660, 1000, 1200} {
		if bp.Media().HeardTone(f) {
			t.Errorf("music off, yet %v Hz heard", f)
		}
	}
}

func TestOptionsOverTCP(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dl, _ := ctx.Deadline()
	c.SetDeadline(dl)
	la := c.LocalAddr().String()
	fmt.Fprintf(c, "OPTIONS sip:park@%s SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bKtcp1\r\nMax-Forwards: 70\r\n"+
		"From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:park@%s>\r\nCall-ID: tcp1@t\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
		s.Addr(), la, s.Addr())
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "SIP/2.0 200") {
		t.Fatalf("OPTIONS over TCP: %q %v", line, err)
	}
}

func TestNewRejectsBadConfigAndOptions(t *testing.T) {
	if _, err := New(Config{}, Options{}); err == nil {
		t.Error("no orbits accepted")
	}
	if _, err := New(defaultConfig(), Options{Listen: "nonsense"}); err == nil {
		t.Error("bad listen address accepted")
	}
	if _, err := New(Config{Orbits: defaultConfig().Orbits, MusicFile: "/does/not/exist.ul"}, Options{}); err == nil {
		t.Error("missing music file accepted")
	}
	opt := Options{Listen: "127.0.0.1:0"}
	cfg := defaultConfig()
	s, err := New(cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	if opt.Domain != "" || cfg.PickupTimeout != 0 {
		t.Error("New mutated its arguments")
	}
	if got := s.Config(); got.PickupTimeout != DefaultPickupTimeout || got.MaxPickupAttempts != 1 {
		t.Errorf("defaults not applied: %+v", got)
	}
}
