package gateway

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/siptest"
)

// Calls between a browser and SIP phones through the real gateway and real pools on
// loopback. The SIP phones are peers nobody here wrote — SIPp, which with -rtp_echo
// sends each browser its own tone back, so hearing it proves audio both ways through
// the bridge — and siptest phones, which send their own tone and tell what they hear.

// erinAnswers registers erin at pool-a with SIPp's answer.xml serving her Contact; her
// SDP names rtpPort and telephone-event at eventPT.
func erinAnswers(t *testing.T, r *callRig, rtpPort, eventPT int, args ...string) *sippRun {
	t.Helper()
	port := freeUDPPort(t)
	sippRegister(t, r.poolA, "erin", "erin-sip", port)
	uas := sipp(t, "erin answers", "answer.xml", "", port, []string{strconv.Itoa(rtpPort), strconv.Itoa(eventPT)},
		append([]string{"-s", "erin", "-m", "1"}, args...)...)
	uas.listening(t, port)
	return uas
}

// erinAuth are SIPp arguments for erin calling user through pool-a (caller.xml), which
// challenges her: her credentials, and the Request-URI as the digest uri (SIPp would
// put the pool's address there, which the pool refuses), then args.
func erinAuth(r *callRig, user string, args ...string) []string {
	return append([]string{"-au", "erin", "-ap", "erin-sip", "-auth_uri", user + "@" + r.poolA.Domain()}, args...)
}

// sippEcho are the arguments that make SIPp echo RTP on port (and port+2, video).
func sippEcho(port int) []string {
	return []string{"-rtp_echo", "-mp", strconv.Itoa(port)}
}

// Alice's browser calls a SIPp phone: SIPp answers through the pool, echoes alice's
// tone, alice hears it; her hang-up is SIPp's BYE and SIPp's scenario completes.
func TestCallsSIPBrowserCallsSIPp(t *testing.T) {
	r := newCallRig(t, rigOptions{})
	ws := r.signedIn(t, "alice")[0]
	echo := freeUDPPort(t)
	uas := erinAnswers(t, r, echo, 101, sippEcho(echo)...)

	id, tb := dialFrom(t, ws, "d1", "erin", false)
	untilState(t, ws, id, signaling.CallActive)
	tb.talk(aliceHz)
	waitFor(t, "alice to hear her tone echoed by SIPp", func() bool { return tb.heard(aliceHz) })

	act(ws, "bye", signaling.ActionHangup, id)
	untilState(t, ws, id, signaling.CallEnded)
	uas.wait(t)
}

// A SIPp phone calls alice: her browser rings, answers in the caller's law, hears her
// tone echoed by SIPp, and hangs up; SIPp gets the BYE.
func TestCallsSIPSIPpCallsBrowser(t *testing.T) {
	r := newCallRig(t, rigOptions{})
	ws := r.signedIn(t, "alice")[0]
	echo := freeUDPPort(t)
	uac := sipp(t, "erin calls alice", "caller.xml", r.poolA.Addr(), freeUDPPort(t),
		[]string{strconv.Itoa(echo), r.poolA.Domain(), "101"}, append(erinAuth(r, "alice", "-s", "alice", "-m", "1"), sippEcho(echo)...)...)

	id, tb := answerOn(t, ws, "a1")
	untilState(t, ws, id, signaling.CallActive)
	tb.talk(aliceHz)
	waitFor(t, "alice to hear her tone echoed by SIPp", func() bool { return tb.heard(aliceHz) })

	act(ws, "bye", signaling.ActionHangup, id)
	untilState(t, ws, id, signaling.CallEnded)
	uac.wait(t)
}

// sipPhone is a siptest phone for user at pool-a, registered.
func sipPhone(t *testing.T, r *callRig, user, password string, hz float64, opts ...func(*siptest.PhoneOptions)) *siptest.Phone {
	t.Helper()
	o := siptest.PhoneOptions{User: user, Password: password, Domain: r.poolA.Domain(), Proxy: r.poolA.Addr(), ToneHz: hz}
	for _, f := range opts {
		f(&o)
	}
	p := siptest.NewPhone(t, o)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := p.Register(ctx, 5*time.Minute); err != nil {
		t.Fatalf("register %s: %v", user, err)
	}
	return p
}

// browserCallsErin has ws's tab dial a registered siptest phone, erin, which answers;
// it returns once alice hears erin's tone, with alice talking.
func browserCallsErin(t *testing.T, ctx context.Context, r *callRig, ws *client) (string, *tab, *siptest.Call) {
	t.Helper()
	erin := sipPhone(t, r, "erin", "erin-sip", phoneHz)
	id, tb := dialFrom(t, ws, "d1", "erin", false)
	var pc *siptest.Call
	select {
	case pc = <-erin.Incoming():
	case <-ctx.Done():
		t.Fatal("erin's phone never rang")
	}
	if err := pc.Answer(ctx); err != nil {
		t.Fatal(err)
	}
	untilState(t, ws, id, signaling.CallActive)
	tb.talk(aliceHz)
	waitFor(t, "alice to hear erin", func() bool { return tb.heard(phoneHz) })
	return id, tb, pc
}

func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Alice's browser calls a siptest phone: each hears the other's tone; the phone hangs
// up and alice's call ends.
func TestCallsSIPBrowserCallsPhone(t *testing.T) {
	r := newCallRig(t, rigOptions{})
	ws := r.signedIn(t, "alice")[0]
	ctx := within(t, time.Minute)
	id, _, pc := browserCallsErin(t, ctx, r, ws)
	waitFor(t, "erin to hear alice", func() bool { return pc.Media().HeardTone(aliceHz) })

	if err := pc.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if m := untilState(t, ws, id, signaling.CallEnded); m.Reason == "" {
		t.Error("alice's call ended without a reason")
	}
}

// A siptest phone calls alice: she answers; each hears the other; her hang-up ends the
// phone's call.
func TestCallsSIPPhoneCallsBrowser(t *testing.T) {
	r := newCallRig(t, rigOptions{})
	ws := r.signedIn(t, "alice")[0]
	erin := sipPhone(t, r, "erin", "erin-sip", phoneHz)
	ctx := within(t, time.Minute)

	id, tb, erinSide := phoneCallsAlice(ctx, t, r, ws, "a1", erin)
	untilState(t, ws, id, signaling.CallActive)
	tb.talk(aliceHz)
	waitFor(t, "alice to hear erin", func() bool { return tb.heard(phoneHz) })
	waitFor(t, "erin to hear alice", func() bool { return erinSide.Media().HeardTone(aliceHz) })

	act(ws, "bye", signaling.ActionHangup, id)
	untilState(t, ws, id, signaling.CallEnded)
	select {
	case <-erinSide.Done():
	case <-ctx.Done():
		t.Fatal("erin's call did not end with alice's hang-up")
	}
}

// parkedAlice has bob park his call with alice; it returns alice's websocket, call id
// and tab (talking aliceHz) and the orbit.
func parkedAlice(t *testing.T, r *callRig) (*client, string, *tab, string) {
	t.Helper()
	cs := r.signedIn(t, "alice", "bob")
	aliceWS, bobWS := cs[0], cs[1]
	aliceID, aliceTab := dialFrom(t, aliceWS, "d1", "bob", false)
	bobID, bobTab := answerOn(t, bobWS, "a1")
	untilState(t, aliceWS, aliceID, signaling.CallActive)
	untilState(t, bobWS, bobID, signaling.CallActive)
	aliceTab.talk(aliceHz)
	bobTab.talk(bobHz)
	waitFor(t, "alice to hear bob", func() bool { return aliceTab.heard(bobHz) })
	orbit := parkCall(t, bobWS, bobID)
	waitFor(t, "pool-a holds alice's parked call", func() bool { return len(r.poolA.Park().Parked()) == 1 })
	return aliceWS, aliceID, aliceTab, orbit
}

// Bob parks alice's browser call; a SIPp phone (no REFER, no Replaces) dials the orbit
// and gets her by the park service's re-INVITE bridging: alice hears her own tone back
// from SIPp's echo, so her leg now talks to SIPp both ways; her hang-up reaches SIPp
// relayed by the park service.
func TestCallsSIPRetrieveFromSIPp(t *testing.T) {
	r := newCallRig(t, rigOptions{})
	aliceWS, aliceID, aliceTab, orbit := parkedAlice(t, r)
	waitFor(t, "alice to hear pool-a's music", func() bool { return aliceTab.heard(440) || aliceTab.heard(660) })

	echo := freeUDPPort(t)
	ret := sipp(t, "frank retrieves", "retriever.xml", r.poolA.Addr(), freeUDPPort(t),
		[]string{strconv.Itoa(echo), orbit, r.poolA.Domain()},
		append([]string{"-au", "frank", "-ap", "frank-sip", "-auth_uri", orbit + "@" + r.poolA.Domain(), "-m", "1"}, sippEcho(echo)...)...)
	aliceTab.forget()
	waitFor(t, "alice to hear herself through SIPp", func() bool { return aliceTab.heard(aliceHz) })
	waitFor(t, "the orbit free again", func() bool { return len(r.poolA.Park().Parked()) == 0 })

	act(aliceWS, "bye", signaling.ActionHangup, aliceID)
	untilState(t, aliceWS, aliceID, signaling.CallEnded)
	ret.wait(t)
}

// Bob parks alice's browser call; a siptest phone dials the orbit and gets her by
// transfer with Replaces: the phone and alice hear each other on alice's same leg.
func TestCallsSIPRetrieveFromPhone(t *testing.T) {
	r := newCallRig(t, rigOptions{})
	aliceWS, aliceID, aliceTab, orbit := parkedAlice(t, r)
	frank := sipPhone(t, r, "frank", "frank-sip", phoneHz)
	ctx := within(t, time.Minute)

	c, err := frank.Call(ctx, "sip:"+orbit+"@"+r.poolA.Domain())
	if err != nil {
		t.Fatal(err)
	}
	next, err := c.Successor(ctx)
	if err != nil {
		t.Fatalf("alice never replaced frank's call to the orbit: %v", err)
	}
	aliceTab.forget()
	waitFor(t, "alice to hear frank", func() bool { return aliceTab.heard(phoneHz) })
	waitFor(t, "frank to hear alice", func() bool { return next.Media().HeardTone(aliceHz) })
	waitFor(t, "the orbit free again", func() bool { return len(r.poolA.Park().Parked()) == 0 })

	act(aliceWS, "bye", signaling.ActionHangup, aliceID)
	untilState(t, aliceWS, aliceID, signaling.CallEnded)
	select {
	case <-next.Done():
	case <-ctx.Done():
		t.Fatal("frank's call did not end with alice's hang-up")
	}
}

// DTMF both ways between alice's browser and a SIP phone (SIPp's signalling, the
// test's RTP socket as its media): digits the browser sends as RFC 4733 events at its
// payload type reach the phone at the type the phone's SDP gave, and the phone's reach
// the browser at the browser's; audio flows both ways around them. Each way of placing
// the call, with the phone's event type at the common 101 and at another dynamic
// type, and with a plain offer and Chrome's (telephone-event at 48 kHz beside 8 kHz).
func TestCallsSIPDTMF(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		incoming bool // the phone calls the browser
		eventPT  uint8
		chrome   bool
	}{
		{"browser calls phone", false, 101, false},
		{"browser calls phone, events at 96, Chrome's offer", false, 96, true},
		{"phone calls browser, Chrome's offer", true, 101, true},
		{"phone calls browser, events at 97", true, 97, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newCallRig(t, rigOptions{})
			ws := r.signedIn(t, "alice")[0]
			sip := newRTPEnd(t, phoneHz, tc.eventPT)
			pt := strconv.Itoa(int(tc.eventPT))
			tb := newTab(t)
			if tc.chrome {
				tb = newTabWith(t, chromeAPI(t))
			}
			var phone *sippRun
			var id string
			if tc.incoming {
				phone = sipp(t, "erin calls alice", "caller.xml", r.poolA.Addr(), freeUDPPort(t),
					[]string{strconv.Itoa(sip.port()), r.poolA.Domain(), pt}, erinAuth(r, "alice", "-s", "alice", "-m", "1")...)
				id, _ = answerWith(t, ws, tb, "a1")
			} else {
				phone = erinAnswers(t, r, sip.port(), int(tc.eventPT))
				id, _ = dialWith(t, ws, tb, "d1", "erin", false)
			}
			untilState(t, ws, id, signaling.CallActive)
			tb.talk(aliceHz)
			waitFor(t, "the phone to hear alice", func() bool { return sip.heard(aliceHz) })
			waitFor(t, "alice to hear the phone", func() bool { return tb.heard(phoneHz) })

			tb.press("159#")
			sip.press("7*0D")
			waitFor(t, "the phone to get alice's digits", func() bool { return len(sip.received()) >= 4 })
			waitFor(t, "alice to get the phone's digits", func() bool { return len(tb.received()) >= 4 })
			if got := sip.received(); got != "159#" {
				t.Errorf("the phone got %q, want 159#", got)
			}
			if got := tb.received(); got != "7*0D" {
				t.Errorf("alice's browser got %q, want 7*0D", got)
			}
			if st := r.bridgeOf("alice", id).Stats(); st.EventsToSIP == 0 || st.EventsToBrowser == 0 {
				t.Errorf("bridge stats %+v: events not counted both ways", st)
			}

			act(ws, "bye", signaling.ActionHangup, id)
			untilState(t, ws, id, signaling.CallEnded)
			phone.wait(t)
		})
	}
}
