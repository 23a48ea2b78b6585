package gateway

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/parkway/parkway/gateway/phone"
	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/media"
	"github.com/parkway/parkway/pool"
)

// Tones far apart in Goertzel bins, so hearing one is never mistaken for the other.
const (
	aliceHz = 440.0
	bobHz   = 1000.0
)

// sipManager is a user agent Manager for the demo users at the pools' home, pool-a.
func sipManager(t *testing.T, poolA, poolB *pool.Pool) *ua.Manager {
	t.Helper()
	creds := ua.StaticCredentials{}
	for _, u := range pool.DemoUsers {
		creds[u.Name] = u.Password
	}
	m, err := ua.NewManager(ua.Config{
		Pools:       []ua.Pool{{Name: poolA.Name(), Addr: poolA.Addr()}, {Name: poolB.Name(), Addr: poolB.Addr()}},
		Active:      poolA.Name(),
		Credentials: creds,
		Logger:      quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func waitDone(t *testing.T, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("waited a minute for %s", what)
	}
}

// Two browsers call each other through real media legs, a real user agent and real
// pools on loopback: each hears the other's tone; holding stops the held side's audio
// toward the holder and resuming brings it back; hanging up ends both calls.
func TestCallMediaBrowserToBrowser(t *testing.T) {
	poolA, poolB := sipPools(t)
	m := sipManager(t, poolA, poolB)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	alice, err := m.SignIn(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := m.SignIn(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	f := testFactory(t)

	// Alice's browser offers; her leg answers it; her user agent dials bob with it.
	aliceTab := newBrowser(t, true)
	aliceLeg := acceptBrowser(t, f, aliceTab)
	type dialed struct {
		c   *ua.Call
		err error
	}
	dial := make(chan dialed, 1)
	go func() {
		c, err := alice.Dial(ctx, "bob", phone.NewCallMedia(aliceLeg, quietLogger()))
		dial <- dialed{c, err}
	}()

	// Bob's call rings; his browser's offer is answered by his leg, which answers SIP.
	var in *ua.Incoming
	select {
	case in = <-bob.Incoming():
	case <-time.After(time.Minute):
		t.Fatal("bob's call never rang")
	}
	bobTab := newBrowser(t, true)
	bobLeg := acceptBrowser(t, f, bobTab)
	bobCall, err := in.Answer(ctx, phone.NewCallMedia(bobLeg, quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	var aliceCall *ua.Call
	select {
	case d := <-dial:
		if d.err != nil {
			t.Fatal(d.err)
		}
		aliceCall = d.c
	case <-time.After(time.Minute):
		t.Fatal("alice's dial never returned")
	}

	aliceTab.talk(aliceHz)
	bobTab.talk(bobHz)
	waitFor(t, "alice to hear bob", func() bool { return aliceTab.heard(bobHz) })
	waitFor(t, "bob to hear alice", func() bool { return bobTab.heard(aliceHz) })
	if law, _ := aliceLeg.Bridge().Codec(); law != media.PCMU {
		t.Fatalf("alice's law %v, want PCMU (the browser's first G.711)", law)
	}

	// Alice holds (sendonly): bob's audio stops reaching her, hers still reaches him.
	if err := aliceCall.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice's browser to go quiet while she holds", func() bool { return aliceTab.quietFor(500 * time.Millisecond) })
	bobTab.forget()
	waitFor(t, "bob to hear alice while held", func() bool { return bobTab.heard(aliceHz) })
	// The holder's bridge sends only; the held side's receives only (RFC 3264 §8.4), so
	// bob's audio is stopped at his own bridge, before it costs the network anything.
	if a, b := aliceLeg.Bridge().Direction(), bobLeg.Bridge().Direction(); a != media.SendOnly || b != media.RecvOnly {
		t.Errorf("while holding: alice's bridge %v, bob's %v; want sendonly, recvonly", a, b)
	}

	if err := aliceCall.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if a, b := aliceLeg.Bridge().Direction(), bobLeg.Bridge().Direction(); a != media.SendRecv || b != media.SendRecv {
		t.Errorf("after resume: alice's bridge %v, bob's %v; want sendrecv both", a, b)
	}
	aliceTab.forget()
	waitFor(t, "alice to hear bob after resume", func() bool { return aliceTab.heard(bobHz) })

	if err := aliceCall.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitDone(t, "alice's call to end", aliceCall.Done())
	waitDone(t, "bob's call to end", bobCall.Done())
	if r := bobCall.EndReason(); r == "" {
		t.Error("bob's call ended without a reason")
	}
}

// The adapter's conversions, without sockets beyond the bridge's own.
func TestCallMediaAdapter(t *testing.T) {
	f := testFactory(t)
	leg, err := f.NewLeg(&media.BridgeConfig{LocalAddr: netip.AddrPortFrom(loopback, 0)})
	if err != nil {
		t.Fatal(err)
	}
	defer leg.Close()
	cm := phone.NewCallMedia(leg, quietLogger())
	if got, want := cm.LocalRTP(), leg.Bridge().LocalAddr(); got != want || got.Port() == 0 {
		t.Fatalf("LocalRTP %v, bridge %v", got, want)
	}
	if c := cm.Codecs(); c != nil {
		t.Fatalf("codecs before the browser answered: %v", c)
	}
	far := netip.MustParseAddrPort("127.0.0.1:40000")
	cm.SetEventPayloadType(101)
	if err := cm.SetRemote(far, ua.PayloadPCMA); err != nil {
		t.Fatal(err)
	}
	r, _, ok := leg.Bridge().Remote()
	if !ok || r.Addr != far || r.Codec != media.PCMA || r.EventPT != 101 {
		t.Fatalf("remote %+v %v", r, ok)
	}
	// A re-INVITE changing only the event type reaches the bridge without SetRemote.
	cm.SetEventPayloadType(96)
	if r, _, _ := leg.Bridge().Remote(); r.EventPT != 96 || r.Addr != far {
		t.Fatalf("after an event type change: %+v", r)
	}
	if err := cm.SetRemote(far, 18); err == nil {
		t.Fatal("G.729 accepted")
	}
	for d, want := range map[ua.Direction]media.Direction{ua.SendRecv: media.SendRecv, ua.SendOnly: media.SendOnly, ua.RecvOnly: media.RecvOnly, ua.Inactive: media.Inactive} {
		cm.SetDirection(d)
		if got := leg.Bridge().Direction(); got != want {
			t.Errorf("%v → %v, want %v", d, got, want)
		}
	}
	if err := leg.Close(); err != nil && !errors.Is(err, media.ErrClosed) {
		t.Log(err)
	}
}
