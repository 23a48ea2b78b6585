package media

import (
	"math/rand/v2"
)

// rewriter turns a sequence of input RTP streams (one per far end: the
// called phone, the park service's music, the retriever, a transfer
// target) into one continuous output stream with a single SSRC.
//
// RFC 3550 §5.1 lets a receiver treat a new SSRC as a new source, and
// browsers do: a new SSRC on the same m-line is an unsignalled stream that
// may be ignored until renegotiation. So the bridge keeps its own outbound
// SSRC and maps each input stream onto it with a sequence offset and a
// timestamp offset, chosen when the input changes so that the next packet
// follows on: sequence = last+1, timestamp = last + the wall-clock time
// since the last packet (at least one frame). The first packet of a new
// input carries the marker bit, the RFC 3551 §4.1 signal of a talkspurt
// start, so the receiver's jitter buffer re-syncs instead of stretching.
//
// A rewriter is used by one goroutine only.
type rewriter struct {
	ssrc uint32 // output SSRC, fixed for the rewriter's life

	started bool   // an input has been seen
	inSSRC  uint32 // current input SSRC
	seqOff  uint16
	tsOff   uint32

	lastSeq uint16 // highest output sequence number sent
	lastTS  uint32 // output timestamp of the newest audio packet
	lastAt  int64  // monotonic ns when lastTS was sent
}

func newRewriter() *rewriter {
	// Random SSRC and initial sequence/timestamp, per RFC 3550 §5.1 and
	// §8.1, so streams are not predictable and never collide by construction.
	return &rewriter{ssrc: rand.Uint32(), lastSeq: uint16(rand.Uint32()), lastTS: rand.Uint32()}
}

// minStep is one 20 ms frame at 8 kHz: the smallest timestamp step that a
// new input may follow on with, so two inputs never share a timestamp.
const minStep = 160

// rewrite maps one input packet's (ssrc, seq, ts) to output values. rebase
// forces a new mapping even for the same input SSRC (the far end changed
// but reused the SSRC, or restarted its sequence). event marks RFC 4733
// packets, whose timestamp is the event's start and must not advance the
// audio clock. now is a monotonic time in nanoseconds.
func (r *rewriter) rewrite(ssrc uint32, seq uint16, ts uint32, event, rebase bool, now int64) (oseq uint16, ots uint32, first bool) {
	if !r.started || rebase || ssrc != r.inSSRC {
		step := uint32(minStep)
		if r.started || r.lastAt != 0 {
			if el := (now - r.lastAt) * clockRate / 1e9; el > minStep && el < 1<<31 {
				step = uint32(el)
			}
		}
		r.seqOff = r.lastSeq + 1 - seq
		r.tsOff = r.lastTS + step - ts
		r.inSSRC, r.started, first = ssrc, true, true
	}
	oseq, ots = seq+r.seqOff, ts+r.tsOff
	// Serial-number arithmetic (RFC 3550 A.1): only move forward, so a
	// reordered packet does not pull the continuation point back.
	if int16(oseq-r.lastSeq) > 0 || first {
		r.lastSeq = oseq
	}
	if !event && (int32(ots-r.lastTS) > 0 || first) {
		r.lastTS, r.lastAt = ots, now
	}
	return oseq, ots, first
}
