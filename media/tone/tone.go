// Package tone generates and detects pure tones in 8 kHz G.711 audio, so
// tests on both sides of a call can prove that the audio they sent is the
// audio the other side heard — not merely that packets arrived.
//
// Detection uses the Goertzel algorithm (a single DFT bin evaluated by a
// second-order recurrence), which is cheap enough to run on every received
// frame and exact enough to tell 440 Hz from 660 Hz in 50 ms of audio. The
// G.711 codec itself lives in park/g711 and is reused here so every part of
// Parkway encodes and decodes with the same tables.
package tone

import (
	"math"

	"github.com/parkway/parkway/media/g711"
)

// SampleRate is the G.711 sampling rate (RFC 3551 §4.5.14): 8000 Hz.
const SampleRate = 8000

// FrameSamples is one 20 ms frame at 8 kHz, the default packetisation of
// G.711 over RTP (RFC 3551 §4.5, ptime 20).
const FrameSamples = 160

// Payload types of the static RTP/AVP profile (RFC 3551 §6, table 4).
const (
	PCMU = g711.PayloadPCMU
	PCMA = g711.PayloadPCMA
)

// Generator produces a continuous sine tone, frame after frame, without
// phase jumps between frames (a jump would smear energy into other bins).
type Generator struct {
	freq      float64
	amplitude float64
	n         uint64 // samples produced so far
}

// NewGenerator returns a generator of freq Hz at amplitude (0..1 of full
// scale). Half scale (0.5) is a comfortable test level that never clips.
func NewGenerator(freq, amplitude float64) *Generator {
	return &Generator{freq: freq, amplitude: amplitude}
}

// Fill writes the next len(dst) linear samples of the tone.
func (g *Generator) Fill(dst []int16) {
	w := 2 * math.Pi * g.freq / SampleRate
	for i := range dst {
		dst[i] = int16(g.amplitude * 32767 * math.Sin(w*float64(g.n)))
		g.n++
	}
}

// Encode writes the next len(dst) samples of the tone as G.711 bytes of
// payload type pt (PCMU or PCMA) into dst and returns dst.
func (g *Generator) Encode(dst []byte, pt uint8) []byte {
	var pcm [FrameSamples]int16
	for off := 0; off < len(dst); off += FrameSamples {
		end := min(off+FrameSamples, len(dst))
		chunk := pcm[:end-off]
		g.Fill(chunk)
		EncodeLinear(dst[off:end], chunk, pt)
	}
	return dst
}

// EncodeLinear encodes linear samples into G.711 bytes of payload type pt.
// dst must be at least len(src) long.
func EncodeLinear(dst []byte, src []int16, pt uint8) {
	for i, s := range src {
		if pt == PCMA {
			dst[i] = g711.EncodeAlaw(s)
		} else {
			dst[i] = g711.EncodeUlaw(s)
		}
	}
}

// Power returns the energy of x at freq relative to the total energy of x,
// in [0, 1]: about 1 for a pure tone at freq, near 0 for other tones,
// silence or noise. Relative power makes the verdict independent of level.
//
// Goertzel: s[n] = x[n] + 2cos(w)s[n-1] - s[n-2]; the bin's power is
// s1² + s2² - 2cos(w)s1s2. Dividing by N·Σx²/2 normalises a full-bin sine
// to 1.
func Power(x []int16, freq float64) float64 {
	if len(x) == 0 {
		return 0
	}
	w := 2 * math.Pi * freq / SampleRate
	c := 2 * math.Cos(w)
	var s1, s2, energy float64
	for _, v := range x {
		f := float64(v)
		energy += f * f
		s := f + c*s1 - s2
		s2, s1 = s1, s
	}
	if energy == 0 {
		return 0
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	return p / (float64(len(x)) * energy / 2)
}

// Detector accumulates decoded audio and answers whether a tone is present
// in the most recent window. It is not safe for concurrent use.
type Detector struct {
	window  []int16
	pos     int
	filled  int
	scratch []int16
}

// NewDetector keeps the last window samples; 400 (50 ms, 20 Hz bins) is
// enough to separate tones 100 Hz apart.
func NewDetector(window int) *Detector {
	return &Detector{window: make([]int16, window), scratch: make([]int16, window)}
}

// Write decodes a G.711 payload of payload type pt into the window.
// Payload types other than PCMU/PCMA are ignored.
func (d *Detector) Write(pt uint8, payload []byte) {
	if pt != PCMU && pt != PCMA {
		return
	}
	for _, b := range payload {
		var s int16
		if pt == PCMA {
			s = g711.DecodeAlaw(b)
		} else {
			s = g711.DecodeUlaw(b)
		}
		d.window[d.pos] = s
		d.pos = (d.pos + 1) % len(d.window)
		if d.filled < len(d.window) {
			d.filled++
		}
	}
}

// Full reports whether a whole window has been heard.
func (d *Detector) Full() bool { return d.filled == len(d.window) }

// Power returns the relative power of freq in the window (see Power).
func (d *Detector) Power(freq float64) float64 {
	if !d.Full() {
		return 0
	}
	n := copy(d.scratch, d.window[d.pos:])
	copy(d.scratch[n:], d.window[:d.pos])
	return Power(d.scratch, freq)
}

// Heard reports whether freq dominates the window (over half its energy).
func (d *Detector) Heard(freq float64) bool { return d.Power(freq) > 0.5 }

// Reset forgets everything heard so far, so a test can tell audio heard
// after an event from audio heard before it.
func (d *Detector) Reset() { d.pos, d.filled = 0, 0 }
