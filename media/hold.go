package media

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/parkway/parkway/media/g711"
)

// Hold is what the SIP peer hears while no browser feeds the bridge: between
// a tab going away and another re-attaching the call ([Bridge.Detach]).
type Hold uint8

const (
	// HoldNothing sends nothing: the far end's jitter buffer plays out and
	// it hears dead air. Used for the short gap of a hand-over.
	HoldNothing Hold = iota
	// HoldSilence sends G.711 silence every 20 ms, so the stream (and any
	// RTP inactivity timer at the far end) stays alive.
	HoldSilence
	// HoldMusic sends a gentle two-note cadence (HoldMusicHz, then
	// HoldMusicHz2, half a second each), so the far end knows the call is
	// still up.
	HoldMusic
)

// Hold music notes, for tests that listen for them (Goertzel).
const (
	HoldMusicHz  = 523.25 // C5
	HoldMusicHz2 = 659.25 // E5
)

// ParseHold reads a Hold as config spells it: "silence" or "music".
func ParseHold(s string) (Hold, error) {
	switch s {
	case "silence":
		return HoldSilence, nil
	case "music":
		return HoldMusic, nil
	}
	return 0, fmt.Errorf("media: hold %q: want silence or music", s)
}

func (h Hold) String() string {
	switch h {
	case HoldSilence:
		return "silence"
	case HoldMusic:
		return "music"
	}
	return "nothing"
}

// frameSamples is one 20 ms G.711 frame: 160 samples, 160 bytes.
const frameSamples = 160

// holdFrames are the hold sounds, encoded once per law on first use: the
// generator only slices them, so a held call allocates nothing per packet.
type holdFrames struct {
	once           sync.Once
	silence, music [2][]byte // by law: [0] PCMU, [1] PCMA
}

var holdSounds holdFrames

func (f *holdFrames) get(h Hold, c Codec) []byte {
	f.once.Do(f.build)
	i := 0
	if c == PCMA {
		i = 1
	}
	if h == HoldMusic {
		return f.music[i]
	}
	return f.silence[i]
}

// build encodes one second of each sound: 50 frames, looped by the
// generator. The notes fade in and out over 10 ms so the loop does not click.
func (f *holdFrames) build() {
	const n = 50 * frameSamples
	pcm := make([]int16, n)
	for i := range pcm {
		hz, j := HoldMusicHz, i
		if i >= n/2 {
			hz, j = HoldMusicHz2, i-n/2
		}
		env := math.Min(1, math.Min(float64(j), float64(n/2-j))/80)
		pcm[i] = int16(0.3 * 32767 * env * math.Sin(2*math.Pi*hz*float64(j)/clockRate))
	}
	for i, c := range []Codec{PCMU, PCMA} {
		f.music[i] = make([]byte, n)
		f.silence[i] = make([]byte, n)
		for k, s := range pcm {
			if c == PCMU {
				f.music[i][k], f.silence[i][k] = g711.EncodeUlaw(s), g711.EncodeUlaw(0)
			} else {
				f.music[i][k], f.silence[i][k] = g711.EncodeAlaw(s), g711.EncodeAlaw(0)
			}
		}
	}
}

// holdFeed is the goroutine that plays h toward the SIP peer every 20 ms
// until stop closes. Its packets enter toSIP like a browser's, as a stream
// of their own SSRC, so the rewriter keeps the far end's SSRC, sequence and
// timestamp continuous across browser → hold → browser.
func (b *Bridge) holdFeed(h Hold, stop <-chan struct{}) {
	defer b.wg.Done()
	s := &b.toSIPState
	law, ok := b.Codec()
	if !ok {
		<-stop // nothing negotiated yet: nothing the far end could play
		return
	}
	sound := holdSounds.get(h, law)
	n := negotiated{codec: law, audioPT: uint8(law)}
	ssrc, seq, ts := rand.Uint32(), uint16(rand.Uint32()), rand.Uint32()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for pos := 0; ; pos = (pos + frameSamples) % len(sound) {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		b.playHold(s, sound[pos:pos+frameSamples], n, ssrc, seq, ts, b.now())
		seq++
		ts += frameSamples
	}
}

// playHold sends one 20 ms frame of a hold sound through the forwarding
// path; it allocates nothing (TestHoldNoAllocs).
func (b *Bridge) playHold(s *sideState, frame []byte, n negotiated, ssrc uint32, seq uint16, ts uint32, now int64) {
	pkt := s.buf[:fixedHeader+len(frame)]
	putHeader(pkt, false, n.audioPT, seq, ts, ssrc)
	copy(pkt[fixedHeader:], frame)
	b.toSIP(s, pkt, n, now)
}
