package media

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Errors of Track.WriteRTP, preallocated so the forwarding path returns
// them without allocating.
var (
	errNotBound = errors.New("media: track not bound to a PeerConnection")
	errNoEvents = errors.New("media: telephone-event not negotiated")
)

// Track is a webrtc.TrackLocal for one G.711 audio stream plus its RFC 4733
// events. pion's TrackLocalStaticRTP stamps every packet with the bound
// codec's payload type, which would turn DTMF into a burst of noise; Track
// instead maps each packet to the payload type negotiated for its kind.
// Track is bound to at most one sender at a time.
type Track struct {
	id, streamID string
	prefer       Codec
	hasPrefer    bool

	bound atomic.Pointer[binding]
}

// binding is what pion handed over in Bind: where to write, the SSRC the
// SDP announced and the negotiated payload types.
type binding struct {
	negotiated
	ssrc uint32
	w    webrtc.TrackLocalWriter
	id   string
}

var _ webrtc.TrackLocal = (*Track)(nil)

// NewTrack returns an unbound track. prefer, when valid, is the G.711 law
// chosen when both are negotiated.
func NewTrack(id, streamID string, prefer Codec) *Track {
	return &Track{id: id, streamID: streamID, prefer: prefer, hasPrefer: prefer.Valid()}
}

// Bind implements webrtc.TrackLocal: it picks G.711 from the negotiated
// codecs and remembers the telephone-event payload type.
func (t *Track) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	n, chosen, ok := choose(ctx.CodecParameters(), t.prefer, t.hasPrefer)
	if !ok {
		return webrtc.RTPCodecParameters{}, fmt.Errorf("media: bind track %s: %w", t.id, ErrNoG711)
	}
	t.bound.Store(&binding{negotiated: n, ssrc: uint32(ctx.SSRC()), w: ctx.WriteStream(), id: ctx.ID()})
	return chosen, nil
}

// Unbind implements webrtc.TrackLocal.
func (t *Track) Unbind(ctx webrtc.TrackLocalContext) error {
	if b := t.bound.Load(); b != nil && b.id == ctx.ID() {
		t.bound.CompareAndSwap(b, nil)
	}
	return nil
}

// ID implements webrtc.TrackLocal.
func (t *Track) ID() string { return t.id }

// RID implements webrtc.TrackLocal; audio has no simulcast layers.
func (t *Track) RID() string { return "" }

// StreamID implements webrtc.TrackLocal.
func (t *Track) StreamID() string { return t.streamID }

// Kind implements webrtc.TrackLocal.
func (t *Track) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeAudio }

// Codec returns the negotiated G.711 law; ok is false before Bind.
func (t *Track) Codec() (c Codec, ok bool) {
	if b := t.bound.Load(); b != nil {
		return b.codec, true
	}
	return 0, false
}

// WriteRTP sends one packet: h's SSRC and payload type are overwritten with
// the negotiated ones (event selects telephone-event); sequence number,
// timestamp and marker are the caller's.
func (t *Track) WriteRTP(h *rtp.Header, payload []byte, event bool) error {
	b := t.bound.Load()
	if b == nil {
		return errNotBound
	}
	return b.write(h, payload, event)
}

func (b *binding) write(h *rtp.Header, payload []byte, event bool) error {
	h.SSRC = b.ssrc
	if event {
		if b.eventPT == 0 {
			return errNoEvents
		}
		h.PayloadType = b.eventPT
	} else {
		h.PayloadType = b.audioPT
	}
	_, err := b.w.WriteRTP(h, payload)
	return err
}
