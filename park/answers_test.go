package park

import (
	"errors"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/siptest"
)

// expectAnswer checks a refused INVITE: status and our diagnostic code.
func expectAnswer(t *testing.T, err error, want *Error) *sip.Response {
	t.Helper()
	var re *siptest.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want %d %s", err, want.Status, want.Text)
	}
	if re.Res.StatusCode != want.Status {
		t.Fatalf("status %d %s, want %d", re.Res.StatusCode, re.Res.Reason, want.Status)
	}
	diag := re.Res.GetHeader("ms-diagnostics")
	if diag == nil || !strings.HasPrefix(diag.Value(), itoa(want.Diagnostic)+";") {
		t.Fatalf("ms-diagnostics = %v, want code %d", diag, want.Diagnostic)
	}
	if re.Res.GetHeader("Warning") == nil {
		t.Error("no Warning header")
	}
	return re.Res
}

func referredByHdr(p *siptest.Phone) sip.Header {
	return sip.NewHeader("Referred-By", "<"+p.URI()+">")
}

func TestDirectedPark(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	p := newParties(t)
	bp, err := parkBob(t, ctx, p, uri(s, "7005"))
	if err != nil {
		t.Fatal(err)
	}
	if o := bp.Header(parkwire.OrbitHeader); o != "7005" {
		t.Fatalf("orbit %q, want 7005", o)
	}
	waitFor(t, ctx, "parked at 7005", func() bool {
		got := s.Parked()
		return len(got) == 1 && got[0].Orbit == "7005" && got[0].State == parkwire.StateParked
	})
}

func TestDoublePark(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	p := newParties(t)
	if _, err := parkBob(t, ctx, p, uri(s, "7005")); err != nil {
		t.Fatal(err)
	}
	// A second directed park at 7005 is refused as a double park...
	dave := siptest.NewPhone(t, siptest.PhoneOptions{User: "dave"})
	_, err := dave.Call(ctx, uri(s, "7005"), referredByHdr(p.carol))
	res := expectAnswer(t, err, ErrOrbitInUse)
	if res.GetHeader(parkwire.OrbitHeader) == nil {
		t.Error("double park answer does not name the orbit")
	}
	// ...and through a real transfer the parker learns it from the sipfrag.
	p2 := parties{alice: p.carol, bob: dave}
	if _, err := parkBob(t, ctx, p2, uri(s, "7005")); err == nil || err.Error() != "transfer failed with 486" {
		t.Fatalf("transfer to a taken orbit: %v, want failure with 486", err)
	}
	waitFor(t, ctx, "bob still parked at 7005", func() bool {
		got := s.Parked()
		return len(got) == 1 && strings.Contains(got[0].ParkedParty, "bob") && got[0].State == parkwire.StateParked
	})
}

func TestUnknownOrbit(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	carol := siptest.NewPhone(t, siptest.PhoneOptions{User: "carol"})
	_, err := carol.Call(ctx, uri(s, "7003")) // ours, nothing parked
	expectAnswer(t, err, ErrOrbitNotFound)
	_, err = carol.Call(ctx, uri(s, "8003")) // not ours at all
	expectAnswer(t, err, ErrOrbitNotFound)
	if s.Owns("8003") || !s.Owns("7003") {
		t.Error("Owns disagrees with the orbit range")
	}
}

func TestOrbitExhaustion(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, Config{Orbits: []parkwire.Range{{Start: "7000", End: "7001"}}}, Options{})
	alice := siptest.NewPhone(t, siptest.PhoneOptions{User: "alice"})
	var got []string
	for _, name := range []string{"b1", "b2"} {
		ph := siptest.NewPhone(t, siptest.PhoneOptions{User: name})
		c, err := ph.Call(ctx, uri(s, parkwire.ParkUser), referredByHdr(alice))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c.Header(parkwire.OrbitHeader))
	}
	if got[0] != "7000" || got[1] != "7001" {
		t.Fatalf("orbits %v, want [7000 7001]", got)
	}
	b3 := siptest.NewPhone(t, siptest.PhoneOptions{User: "b3"})
	_, err := b3.Call(ctx, uri(s, parkwire.ParkUser), referredByHdr(alice))
	expectAnswer(t, err, ErrNoOrbitAvailable)
}

func TestDrain(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	p := newParties(t)
	bp, err := parkBob(t, ctx, p, uri(s, parkwire.ParkUser))
	if err != nil {
		t.Fatal(err)
	}
	s.Drain()
	dave := siptest.NewPhone(t, siptest.PhoneOptions{User: "dave"})
	_, err = dave.Call(ctx, uri(s, parkwire.ParkUser), referredByHdr(p.alice))
	res := expectAnswer(t, err, ErrDraining)
	if ra := res.GetHeader("Retry-After"); ra == nil || ra.Value() != "30" {
		t.Errorf("Retry-After = %v, want 30", ra)
	}
	// The parked call is still retrievable while draining.
	cp, err := p.carol.Call(ctx, uri(s, bp.Header(parkwire.OrbitHeader)))
	if err != nil {
		t.Fatal(err)
	}
	cb, err := cp.Successor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitTone(t, ctx, cb.Media(), bobHz)
}

func TestParkedPartyHangsUp(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	events, cancel := s.Events()
	defer cancel()
	p := newParties(t)
	bp, err := parkBob(t, ctx, p, uri(s, parkwire.ParkUser))
	if err != nil {
		t.Fatal(err)
	}
	nextEvent(t, ctx, events, parkwire.StateParked)
	if err := bp.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	e := nextEvent(t, ctx, events, parkwire.StateDisconnected)
	if e.Call.Orbit != "7000" {
		t.Errorf("event %+v", e)
	}
	waitFor(t, ctx, "orbit freed", func() bool { return len(s.Parked()) == 0 && s.openStreams.Load() == 0 })
	_, err = p.carol.Call(ctx, uri(s, "7000"))
	expectAnswer(t, err, ErrOrbitNotFound)
}

func TestNoG711Offered(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	raw := newRawUDP(t, s.Addr())
	sdp := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 9\r\n"
	res := raw.roundTrip(t, ctx, inviteText(raw, "park", s.Addr(), "Content-Type: application/sdp\r\nReferred-By: <sip:alice@127.0.0.1>\r\n", sdp))
	if !strings.HasPrefix(res, "SIP/2.0 488") {
		t.Fatalf("G.722-only offer answered %q", firstLine(res))
	}
}
