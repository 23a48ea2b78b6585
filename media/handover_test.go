package media

import "testing"

// checkOneStream fails unless every packet the phone got has one SSRC and
// sequence numbers that step by exactly one (loopback loses nothing): the
// SIP peer saw one continuous stream whatever fed the bridge.
func checkOneStream(t *testing.T, pk []received) {
	t.Helper()
	if len(pk) == 0 {
		t.Fatal("the phone got no packets")
	}
	for i := 1; i < len(pk); i++ {
		if pk[i].ssrc != pk[0].ssrc {
			t.Fatalf("packet %d: SSRC %#x, want %#x throughout", i, pk[i].ssrc, pk[0].ssrc)
		}
		if d := pk[i].seq - pk[i-1].seq; d != 1 {
			t.Fatalf("packet %d: sequence %d after %d", i, pk[i].seq, pk[i-1].seq)
		}
		if dts := pk[i].ts - pk[i-1].ts; int32(dts) < 160 || dts > 8000*10 {
			t.Fatalf("packet %d: timestamp step %d, want a frame or the real gap", i, int32(dts))
		}
	}
}

// heardIn waits until the ear got n more packets, then reports whether it
// heard freq in them.
func heardIn(t *testing.T, e *ear, n int, freq float64) bool {
	t.Helper()
	e.mu.Lock()
	e.det.Reset()
	start := len(e.packets)
	e.mu.Unlock()
	eventually(t, "more packets at the phone", func() bool { return e.count() >= start+n })
	return e.heard(freq)
}

// TestHandoverContinuesSIPStream is the bridge hand-over of issue 10: a
// second browser PeerConnection takes the call; the SIP peer's stream goes
// on with the same SSRC and the next sequence number, the first browser's
// audio is no longer forwarded although it keeps sending, and the new
// browser hears the phone.
func TestHandoverContinuesSIPStream(t *testing.T) {
	checkGoroutines(t)
	f := testFactory(t)
	c := newCall(t, nil, browserHz, phoneHz)
	eventually(t, "the phone to hear the first browser", func() bool { return c.phone.ear.heard(browserHz) })

	const secondHz = 880
	leg2, err := f.Handover(c.leg)
	if err != nil {
		t.Fatal(err)
	}
	b2 := newBrowser(t, true)
	defer b2.close()
	defer leg2.Close()
	if err := negotiate(t, leg2, b2); err != nil {
		t.Fatal(err)
	}
	if leg2.Bridge() != c.bridge() {
		t.Fatal("the new leg has another bridge")
	}
	b2.talk(secondHz)
	eventually(t, "the phone to hear the second browser", func() bool { return c.phone.ear.heard(secondHz) })
	eventually(t, "the second browser to hear the phone", func() bool { return b2.ear.heard(phoneHz) })

	// The first browser still sends (its page has not heard yet): none of it
	// reaches the phone.
	if heardIn(t, c.phone.ear, 50, browserHz) {
		t.Fatal("the phone still hears the first browser after the hand-over")
	}
	checkOneStream(t, c.phone.ear.snapshot())

	// The old leg closes only its PeerConnection: the call's audio goes on.
	if err := c.leg.Close(); err != nil {
		t.Fatal(err)
	}
	if !heardIn(t, c.phone.ear, 25, secondHz) {
		t.Fatal("closing the old leg stopped the new one's audio")
	}
	if _, err := f.Handover(c.leg); err == nil {
		t.Fatal("a leg handed over (and closed) was handed over again")
	}
}

// TestDetachPlaysHold: while no browser feeds the bridge the SIP peer hears
// the hold music, in the same stream, and the browser that re-attaches is
// heard again, still in that stream.
func TestDetachPlaysHold(t *testing.T) {
	checkGoroutines(t)
	f := testFactory(t)
	c := newCall(t, nil, browserHz, phoneHz)
	eventually(t, "the phone to hear the browser", func() bool { return c.phone.ear.heard(browserHz) })
	if err := c.bridge().Detach(HoldMusic); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the phone to hear the hold music", func() bool { return c.phone.ear.heard(HoldMusicHz) })
	if heardIn(t, c.phone.ear, 10, browserHz) {
		t.Fatal("the detached browser is still heard")
	}

	leg2, err := f.Handover(c.leg)
	if err != nil {
		t.Fatal(err)
	}
	defer leg2.Close()
	b2 := newBrowser(t, true)
	defer b2.close()
	if err := negotiate(t, leg2, b2); err != nil {
		t.Fatal(err)
	}
	b2.talk(880)
	eventually(t, "the phone to hear the re-attached browser", func() bool { return c.phone.ear.heard(880) })
	checkOneStream(t, c.phone.ear.snapshot())

	if err := c.bridge().Detach(HoldSilence); err != nil {
		t.Fatal(err)
	}
	if heardIn(t, c.phone.ear, 25, 880) {
		t.Fatal("the browser is still heard on silence")
	}
	checkOneStream(t, c.phone.ear.snapshot())
}

// TestHandoverNoAllocs: the per-packet paths a hand-over touches — the
// browser → SIP step with a new input stream, and the hold sound's frame —
// allocate nothing.
func TestHandoverNoAllocs(t *testing.T) {
	phone := newPhone(t)
	defer phone.close()
	br, err := NewBridge(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if err := br.SetRemote(Remote{Addr: phone.addr(), Codec: PCMU}); err != nil {
		t.Fatal(err)
	}
	br.expect(PCMU)
	s := &br.toSIPState
	n := negotiated{codec: PCMU, audioPT: 0}
	pkt := make([]byte, fixedHeader+frameSamples)
	var seq uint16
	ssrc := uint32(1)
	allocs := testing.AllocsPerRun(500, func() {
		seq++
		if seq%50 == 0 {
			ssrc++ // a new leg's stream: the rewriter re-bases
		}
		putHeader(pkt, false, 0, seq, uint32(seq)*160, ssrc)
		br.toSIP(s, pkt, n, int64(seq)*20e6)
	})
	if allocs != 0 {
		t.Errorf("browser → SIP across hand-overs: %v allocs per packet, want 0", allocs)
	}
	frame := holdSounds.get(HoldMusic, PCMU)[:frameSamples]
	allocs = testing.AllocsPerRun(500, func() {
		seq++
		br.playHold(s, frame, n, 7, seq, uint32(seq)*160, int64(seq)*20e6)
	})
	if allocs != 0 {
		t.Errorf("hold music: %v allocs per packet, want 0", allocs)
	}
	// Forwarded, not dropped early (a burst may overflow the phone's socket).
	if got := br.Stats().ToSIP; got < 1000 {
		t.Errorf("%d packets forwarded, want every one of 1002", got)
	}
}

// TestResumeAfterDetach: the same PeerConnection feeds the bridge again after
// a Detach (its tab came back), in the same stream toward the SIP peer.
func TestResumeAfterDetach(t *testing.T) {
	checkGoroutines(t)
	c := newCall(t, nil, browserHz, phoneHz)
	eventually(t, "the phone to hear the browser", func() bool { return c.phone.ear.heard(browserHz) })
	if err := c.bridge().Detach(HoldMusic); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the phone to hear the hold music", func() bool { return c.phone.ear.heard(HoldMusicHz) })
	if err := c.leg.Resume(); err != nil {
		t.Fatal(err)
	}
	if !heardIn(t, c.phone.ear, 25, browserHz) {
		t.Fatal("the resumed browser is not heard")
	}
	checkOneStream(t, c.phone.ear.snapshot())
}

// TestHandoverWithSharedPoller: a bridge whose SIP side the shared
// epoll/recvmmsg poller reads works as one with a goroutine of its own —
// both directions, and after a hand-over to a new PeerConnection the new
// browser hears the phone and the phone still gets one continuous stream.
func TestHandoverWithSharedPoller(t *testing.T) {
	checkGoroutines(t)
	f := testFactory(t)
	c := newCall(t, &BridgeConfig{SharedPoller: true}, browserHz, phoneHz)
	if c.bridge().sipReg == nil {
		t.Fatal("SharedPoller set, but the bridge reads its SIP socket itself")
	}
	eventually(t, "the phone to hear the browser", func() bool { return c.phone.ear.heard(browserHz) })
	eventually(t, "the browser to hear the phone", func() bool { return c.browser.ear.heard(phoneHz) })

	const secondHz = 880
	leg2, err := f.Handover(c.leg)
	if err != nil {
		t.Fatal(err)
	}
	b2 := newBrowser(t, true)
	defer b2.close()
	defer leg2.Close()
	if err := negotiate(t, leg2, b2); err != nil {
		t.Fatal(err)
	}
	b2.talk(secondHz)
	eventually(t, "the phone to hear the second browser", func() bool { return c.phone.ear.heard(secondHz) })
	eventually(t, "the second browser to hear the phone", func() bool { return b2.ear.heard(phoneHz) })
	checkOneStream(t, c.phone.ear.snapshot())
	if err := c.leg.Close(); err != nil {
		t.Fatal(err)
	}
}
