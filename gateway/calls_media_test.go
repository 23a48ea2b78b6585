package gateway

import (
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/parkway/parkway/media/tone"
	"github.com/parkway/parkway/signaling"
)

// What the media does through the whole gateway: hold with a SIP phone, pool-a's and
// pool-b's music on hold heard by a parked browser (before and after failover), two
// calls at once for one user, and RTP that must be dropped.

// Alice's browser talks to a siptest phone and holds: the phone's audio no longer
// reaches her while her own still reaches the phone (sendonly, RFC 3264 §8.4); on
// resume she hears the phone again.
func TestCallsMediaHoldWithPhone(t *testing.T) {
	r := newCallRig(t, rigOptions{})
	ws := r.signedIn(t, "alice")[0]
	ctx := within(t, time.Minute)
	id, tb, pc := browserCallsErin(t, ctx, r, ws)

	act(ws, "h1", signaling.ActionHold, id)
	untilState(t, ws, id, signaling.CallHeld)
	waitFor(t, "alice's browser to go quiet while she holds", func() bool { return tb.quietFor(time.Second) })
	before := tb.count()
	pc.Media().ResetStats()
	waitFor(t, "erin to hear alice while held", func() bool { return pc.Media().HeardTone(aliceHz) })
	if n := tb.count() - before; n != 0 {
		t.Errorf("alice's browser got %d packets while holding", n)
	}

	act(ws, "r1", signaling.ActionResume, id)
	untilState(t, ws, id, signaling.CallActive)
	tb.forget()
	waitFor(t, "alice to hear erin after resume", func() bool { return tb.heard(phoneHz) })

	act(ws, "bye", signaling.ActionHangup, id)
	untilState(t, ws, id, signaling.CallEnded)
}

// hearsOnly waits until tb hears want (each frequency at some point), then listens for
// a further two seconds — a whole loop of the music — during which none of not may
// dominate any 50 ms.
func hearsOnly(t *testing.T, tb *tab, what string, want, not [2]float64) {
	t.Helper()
	for _, f := range want {
		waitFor(t, what+" ("+strconv.Itoa(int(f))+" Hz)", func() bool { return tb.heard(f) })
	}
	end := time.Now().Add(2 * time.Second)
	for time.Now().Before(end) {
		for _, f := range not {
			if l := tb.level(f); l > 0.3 {
				t.Fatalf("%s: %v Hz heard at level %.2f", what, f, l)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func inRange(orbit string, lo, hi int) bool {
	n, err := strconv.Atoi(orbit)
	return err == nil && n >= lo && n <= hi
}

// A parked browser hears its pool's music on hold: bob parks alice on pool-a, orbit
// 7000–7099, and alice hears 440/660 Hz, never 1000/1200. After an admin failover
// completes (the real DR controller probing the real pools, users re-registered at
// pool-b), the same park gives an orbit in 8000–8099 and pool-b's 1000/1200 Hz,
// never 440/660.
func TestCallsMediaParkMusicAndFailover(t *testing.T) {
	t.Parallel()
	r := newCallRig(t, rigOptions{realDR: true})
	cs := r.signedIn(t, "alice", "bob")
	aliceWS, bobWS := cs[0], cs[1]
	poolA, poolB := [2]float64{440, 660}, [2]float64{1000, 1200}

	parkAlice := func(round string) (string, string, *tab) {
		aliceID, aliceTab := dialFrom(t, aliceWS, "d"+round, "bob", false)
		bobID, bobTab := answerOn(t, bobWS, "a"+round)
		untilState(t, aliceWS, aliceID, signaling.CallActive)
		untilState(t, bobWS, bobID, signaling.CallActive)
		bobTab.talk(bobHz)
		waitFor(t, "alice to hear bob", func() bool { return aliceTab.heard(bobHz) })
		bobTab.close()
		orbit := parkCall(t, bobWS, bobID)
		aliceTab.forget()
		return aliceID, orbit, aliceTab
	}

	aliceID, orbit, aliceTab := parkAlice("1")
	if !inRange(orbit, 7000, 7099) {
		t.Fatalf("parked on pool-a at orbit %s, want 7000–7099", orbit)
	}
	hearsOnly(t, aliceTab, "alice parked on pool-a hears its music", poolA, poolB)
	act(aliceWS, "x1", signaling.ActionHangup, aliceID)
	untilState(t, aliceWS, aliceID, signaling.CallEnded)
	waitFor(t, "pool-a's orbit free", func() bool { return len(r.poolA.Park().Parked()) == 0 })

	ctx := within(t, time.Minute)
	if _, err := r.ctl.Failover(ctx); err != nil {
		t.Fatal(err)
	}
	statesUntil(t, aliceWS, signaling.PhaseFailedOver)
	statesUntil(t, bobWS, signaling.PhaseFailedOver)
	waitFor(t, "alice and bob registered at pool-b", func() bool {
		return len(r.poolB.Contacts("alice")) > 0 && len(r.poolB.Contacts("bob")) > 0
	})

	aliceID, orbit, aliceTab = parkAlice("2")
	if !inRange(orbit, 8000, 8099) {
		t.Fatalf("parked after failover at orbit %s, want 8000–8099 (pool-b)", orbit)
	}
	// The parker hears of the orbit from the transfer's NOTIFY, which can come before
	// the park service has filed the call.
	waitFor(t, "pool-b to hold the parked call", func() bool { return len(r.poolB.Park().Parked()) == 1 })
	hearsOnly(t, aliceTab, "alice parked on pool-b hears its music", poolB, poolA)
	act(aliceWS, "x2", signaling.ActionHangup, aliceID)
	untilState(t, aliceWS, aliceID, signaling.CallEnded)
}

// Two calls at once for alice: she talks to bob, holds him and answers carol (a
// siptest phone) — carol's leg hears carol and bob's is silent; she holds carol and
// resumes bob — bob's leg hears bob and carol's is silent. Bob and carol each hear
// alice's tone of the call they are on, never the other call's.
func TestCallsMediaTwoCalls(t *testing.T) {
	r := newCallRig(t, rigOptions{})
	cs := r.signedIn(t, "alice", "bob")
	aliceWS, bobWS := cs[0], cs[1]
	carol := sipPhone(t, r, "grace", "grace-sip", carolHz)
	ctx := within(t, time.Minute)

	bobCall, bobLeg := dialFrom(t, aliceWS, "d1", "bob", false)
	bobSide, bobTab := answerOn(t, bobWS, "a1")
	untilState(t, aliceWS, bobCall, signaling.CallActive)
	untilState(t, bobWS, bobSide, signaling.CallActive)
	const aliceToBob, aliceToCarol = 440.0, 700.0 // alice's two legs speak differently
	bobLeg.talk(aliceToBob)
	bobTab.talk(bobHz)
	waitFor(t, "alice to hear bob", func() bool { return bobLeg.heard(bobHz) })
	waitFor(t, "bob to hear alice", func() bool { return bobTab.heard(aliceToBob) })

	act(aliceWS, "h1", signaling.ActionHold, bobCall)
	untilState(t, aliceWS, bobCall, signaling.CallHeld)
	waitFor(t, "bob's held leg to go quiet", func() bool { return bobLeg.quietFor(500 * time.Millisecond) })
	heldCount := bobLeg.count()

	carolCall, carolLeg, carolSide := phoneCallsAlice(ctx, t, r, aliceWS, "a2", carol)
	untilState(t, aliceWS, carolCall, signaling.CallActive)
	carolLeg.talk(aliceToCarol)
	waitFor(t, "alice to hear carol", func() bool { return carolLeg.heard(carolHz) })
	waitFor(t, "carol to hear alice", func() bool { return carolSide.Media().HeardTone(aliceToCarol) })
	if n := bobLeg.count() - heldCount; n != 0 {
		t.Errorf("bob's held leg played %d packets while alice talked to carol", n)
	}
	if l := carolLeg.level(bobHz); l > 0.3 {
		t.Errorf("bob's tone leaked into carol's leg (level %.2f)", l)
	}
	if l := carolSide.Media().Level(aliceToBob); l > 0.3 {
		t.Errorf("carol hears what alice says to bob (level %.2f)", l)
	}

	// Swap: hold carol, resume bob.
	act(aliceWS, "h2", signaling.ActionHold, carolCall)
	untilState(t, aliceWS, carolCall, signaling.CallHeld)
	act(aliceWS, "r1", signaling.ActionResume, bobCall)
	untilState(t, aliceWS, bobCall, signaling.CallActive)
	bobLeg.forget()
	bobTab.forget()
	waitFor(t, "alice to hear bob again", func() bool { return bobLeg.heard(bobHz) })
	waitFor(t, "bob to hear alice again", func() bool { return bobTab.heard(aliceToBob) })
	waitFor(t, "carol's held leg to go quiet", func() bool { return carolLeg.quietFor(time.Second) })
	if l := bobLeg.level(carolHz); l > 0.3 {
		t.Errorf("carol's tone leaked into bob's leg (level %.2f)", l)
	}
	if l := bobTab.level(aliceToCarol); l > 0.3 {
		t.Errorf("bob hears what alice says to carol (level %.2f)", l)
	}

	act(aliceWS, "x1", signaling.ActionHangup, bobCall)
	untilState(t, aliceWS, bobCall, signaling.CallEnded)
	act(aliceWS, "x2", signaling.ActionHangup, carolCall)
	untilState(t, aliceWS, carolCall, signaling.CallEnded)
}

// RTP that is not the phone's is dropped at the gateway's SIP-side port and the call
// carries on: spoofed packets (valid RTP, the phone's own payload type and SSRC, another
// tone) and garbage from a wrong port and from a wrong address, and garbage from the
// phone's own address. Alice keeps hearing the phone, never the spoofer's tone; the
// bridge counts every drop and stays with the phone.
func TestCallsMediaSpoofedRTP(t *testing.T) {
	r := newCallRig(t, rigOptions{})
	ws := r.signedIn(t, "alice")[0]
	sip := newRTPEnd(t, phoneHz, 101)
	uas := erinAnswers(t, r, sip.port(), 101)

	id, tb := dialFrom(t, ws, "d1", "erin", false)
	untilState(t, ws, id, signaling.CallActive)
	tb.talk(aliceHz)
	waitFor(t, "alice to hear the phone", func() bool { return tb.heard(phoneHz) })
	br := r.bridgeOf("alice", id)
	if br == nil {
		t.Fatal("no bridge for alice's call")
	}
	target := br.LocalAddr()
	before := br.Stats()

	// Spoofers: another port on the phone's address, and another loopback address.
	var spoofers []*net.UDPConn
	for _, ip := range []string{"127.0.0.1", "127.0.0.2"} {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		spoofers = append(spoofers, c)
	}
	gen := tone.NewGenerator(spoofHz, 0.9)
	payload := make([]byte, tone.FrameSamples)
	buf := make([]byte, 1500)
	garbage := [][]byte{
		{0x00},                                            // one byte
		[]byte("INVITE sip:x SIP/2.0\r\n"),                // not RTP
		{0x40, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1},           // RTP version 1
		{0x8f, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1},           // 15 CSRCs announced, none there
		{0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xff},     // padding longer than the packet
		{0x80, 18, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3}, // G.729: not negotiated
	}
	stop := time.Now().Add(2 * time.Second)
	var spoofed, junk int
	for seq := uint16(1); time.Now().Before(stop); seq++ {
		gen.Encode(payload, tone.PCMU)
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 0x5151}, Payload: payload}
		n, _ := p.MarshalTo(buf)
		g := garbage[int(seq)%len(garbage)]
		for _, c := range spoofers {
			if _, err := c.WriteToUDPAddrPort(buf[:n], target); err == nil {
				spoofed++
			}
			if _, err := c.WriteToUDPAddrPort(g, target); err == nil {
				junk++
			}
		}
		sip.sendRaw(g)
		junk++
		time.Sleep(5 * time.Millisecond)
		if l := tb.level(spoofHz); l > 0.3 {
			t.Fatalf("alice hears the spoofer (level %.2f)", l)
		}
	}
	tb.forget()
	waitFor(t, "alice to hear the phone after the attack", func() bool { return tb.heard(phoneHz) })
	if l := tb.level(spoofHz); l > 0.3 {
		t.Fatalf("alice hears the spoofer (level %.2f)", l)
	}
	// Every packet is dropped and counted (a few may be lost in the kernel's buffer).
	after := br.Stats()
	wrong := after.WrongSource - before.WrongSource
	bad := (after.Malformed + after.UnknownPayload) - (before.Malformed + before.UnknownPayload)
	t.Logf("sent %d spoofed, %d garbage; the bridge dropped %d from wrong sources, %d malformed or unknown", spoofed, junk, wrong, bad)
	if wrong < uint64(spoofed)*9/10 || wrong > uint64(spoofed) {
		t.Errorf("wrong-source drops %d for %d spoofed packets", wrong, spoofed)
	}
	if bad < uint64(junk)*9/10 || bad > uint64(junk) {
		t.Errorf("garbage drops %d for %d garbage packets", bad, junk)
	}
	if r, addr, _ := br.Remote(); addr != netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sip.port())) {
		t.Errorf("the bridge's peer moved to %v (remote %+v)", addr, r)
	}

	act(ws, "bye", signaling.ActionHangup, id)
	untilState(t, ws, id, signaling.CallEnded)
	uas.wait(t)
}
