package park

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/parkway/parkway/media/g711"
)

// The music stream is well-formed RTP: one 160-byte G.711 frame per
// packet, sequence +1 and timestamp +160 each time, in the negotiated
// payload type. Pacing is logged (a measurement, not an assertion).
func TestMusicStreamRTP(t *testing.T) {
	music, err := loadMusic("builtin:pool-a")
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range []uint8{g711.PayloadPCMU, g711.PayloadPCMA} {
		sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		var open atomic.Int64
		st, err := newStream(net.IPv4(127, 0, 0, 1), &open)
		if err != nil {
			t.Fatal(err)
		}
		st.play(sink.LocalAddr().(*net.UDPAddr), pt, music)
		sink.SetReadDeadline(time.Now().Add(20 * time.Second))
		buf := make([]byte, 1500)
		var prev rtp.Packet
		var first, last time.Time
		var worst time.Duration
		const n = 100
		for i := 0; i < n; i++ {
			m, _, err := sink.ReadFromUDP(buf)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			var p rtp.Packet
			if err := p.Unmarshal(buf[:m]); err != nil {
				t.Fatal(err)
			}
			if p.PayloadType != pt || len(p.Payload) != 160 {
				t.Fatalf("packet %d: pt %d, %d bytes", i, p.PayloadType, len(p.Payload))
			}
			if i > 0 {
				if p.SequenceNumber != prev.SequenceNumber+1 || p.Timestamp != prev.Timestamp+160 || p.SSRC != prev.SSRC {
					t.Fatalf("packet %d: seq %d ts %d after %d %d", i, p.SequenceNumber, p.Timestamp, prev.SequenceNumber, prev.Timestamp)
				}
				if d := now.Sub(last); d > worst {
					worst = d
				}
			} else {
				first = now
				if !p.Marker {
					t.Error("first packet of the stream lacks the marker bit")
				}
			}
			prev, last = p, now
		}
		t.Logf("pt %d: %d packets, mean interval %v, worst %v", pt, n, last.Sub(first)/(n-1), worst)
		st.close()
		sink.Close()
		if open.Load() != 0 {
			t.Error("stream count not released")
		}
	}
}
