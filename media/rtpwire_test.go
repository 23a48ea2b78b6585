package media

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
)

func TestParseRTPMatchesPion(t *testing.T) {
	pkts := []rtp.Packet{
		{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 7, Timestamp: 160, SSRC: 42}, Payload: []byte{1, 2, 3}},
		{Header: rtp.Header{Version: 2, Marker: true, PayloadType: 101, SequenceNumber: 65535, Timestamp: 1 << 31, SSRC: 1, CSRC: []uint32{5, 6}}, Payload: []byte{9, 0x80, 0, 160}},
		withExtension(rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SSRC: 3}, Payload: []byte{0xd5, 0xd5}}),
		{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 4, Padding: true, PaddingSize: 4}, Payload: []byte{1, 2}, PaddingSize: 4},
	}
	for i, p := range pkts {
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		var w wire
		if !parseRTP(b, &w) {
			t.Fatalf("packet %d: refused", i)
		}
		if w.pt != p.PayloadType || w.marker != p.Marker || w.seq != p.SequenceNumber || w.ts != p.Timestamp || w.ssrc != p.SSRC {
			t.Fatalf("packet %d: parsed %+v from %+v", i, w, p.Header)
		}
		if !bytes.Equal(b[w.payload:w.end], p.Payload) {
			t.Fatalf("packet %d: payload %x, want %x", i, b[w.payload:w.end], p.Payload)
		}
	}
}

func TestIsRTCP(t *testing.T) {
	if !isRTCP([]byte{0x81, 200, 0, 6, 0, 0, 0, 1}) {
		t.Error("sender report not recognised")
	}
	if isRTCP([]byte{0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}) || isRTCP([]byte{0x80, 0xe0, 0, 1, 0, 0, 0, 1}) {
		t.Error("RTP taken for RTCP") // PT 96 with marker is 0xe0: not RTCP
	}
}

// FuzzParseRTP: whatever the network sends, parseRTP must not panic and
// must return offsets inside the packet (the bridge slices with them).
func FuzzParseRTP(f *testing.F) {
	b, _ := withExtension(rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1}, Payload: []byte{1, 2}}).Marshal()
	f.Add(b)
	f.Add([]byte{0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 200})
	f.Add([]byte{0x8f, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var w wire
		if !parseRTP(b, &w) {
			return
		}
		if w.payload < fixedHeader || w.payload > w.end || w.end > len(b) {
			t.Fatalf("offsets %d..%d outside %d bytes", w.payload, w.end, len(b))
		}
	})
}

// withExtension adds a one-byte header extension (RFC 8285 §4.2), as a
// browser's audio-level extension would be.
func withExtension(p rtp.Packet) rtp.Packet {
	if err := p.SetExtension(1, []byte{0x30}); err != nil {
		panic(err)
	}
	return p
}
