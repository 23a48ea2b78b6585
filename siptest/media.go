package siptest

import (
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/parkway/parkway/media/g711"
	"github.com/parkway/parkway/sip/audiosdp"
)

const (
	sampleRate    = 8000
	frameSamples  = 160 // 20 ms at 8 kHz (RFC 3551 §4.5: G.711 default packetisation)
	historyLen    = sampleRate
	goertzelBlock = 400 // 50 ms: 20 Hz bins, enough to tell 440 from 660 Hz
)

// Media is one call's RTP stream: a socket on 127.0.0.1, a paced sender of
// the phone's tone, and a receiver that keeps the last second of decoded
// audio for tone detection.
type Media struct {
	conn   *net.UDPConn
	toneHz float64

	remote atomic.Pointer[net.UDPAddr]
	pt     atomic.Uint32

	packets atomic.Int64
	mu      sync.Mutex
	history []int16 // ring of the last historyLen samples
	pos     int
	filled  int
	sources map[string]int64

	startSend sync.Once
	stop      chan struct{}
	stopOnce  sync.Once
	wg        sync.WaitGroup
}

func newMedia(toneHz float64) (*Media, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	m := &Media{conn: c, toneHz: toneHz, history: make([]int16, historyLen),
		sources: map[string]int64{}, stop: make(chan struct{})}
	m.wg.Add(1)
	go m.receive()
	return m, nil
}

// LocalAddr is the RTP address announced in SDP.
func (m *Media) LocalAddr() *net.UDPAddr { return m.conn.LocalAddr().(*net.UDPAddr) }

func (m *Media) offer() []byte {
	return audiosdp.Build(m.LocalAddr(), rand.Uint64()>>1)
}

// start begins sending to the peer described by d with payload type pt.
func (m *Media) start(d audiosdp.Description, pt uint8) {
	m.pt.Store(uint32(pt))
	m.remote.Store(d.UDPAddr())
	m.startSend.Do(func() {
		m.wg.Add(1)
		go m.send()
	})
}

func (m *Media) close() {
	m.stopOnce.Do(func() {
		close(m.stop)
		m.conn.Close()
	})
	m.wg.Wait()
}

// send paces one 20 ms frame per tick, as a real phone does, with a
// continuous phase so the tone is clean across packets.
func (m *Media) send() {
	defer m.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	seq := uint16(rand.Uint32())
	ts := rand.Uint32()
	ssrc := rand.Uint32()
	var phase float64
	step := 2 * math.Pi * m.toneHz / sampleRate
	payload := make([]byte, frameSamples)
	buf := make([]byte, 0, 12+frameSamples)
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
		}
		pt := uint8(m.pt.Load())
		for i := range payload {
			var s int16
			if m.toneHz > 0 {
				s = int16(8000 * math.Sin(phase))
				phase += step
			}
			if pt == g711.PayloadPCMA {
				payload[i] = g711.EncodeAlaw(s)
			} else {
				payload[i] = g711.EncodeUlaw(s)
			}
		}
		phase = math.Mod(phase, 2*math.Pi)
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq,
			Timestamp: ts, SSRC: ssrc}, Payload: payload}
		seq++
		ts += frameSamples
		n, err := pkt.Header.MarshalTo(buf[:cap(buf)])
		if err != nil {
			continue
		}
		out := append(buf[:n], payload...)
		if dst := m.remote.Load(); dst != nil {
			_, _ = m.conn.WriteToUDP(out, dst)
		}
	}
}

func (m *Media) receive() {
	defer m.wg.Done()
	buf := make([]byte, 1500)
	var pcm []int16
	for {
		n, src, err := m.conn.ReadFromUDP(buf)
		if err != nil {
			return // closed
		}
		var pkt rtp.Packet
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		pcm = g711.Decode(pcm[:0], pkt.PayloadType, pkt.Payload)
		m.packets.Add(1)
		m.mu.Lock()
		m.sources[src.String()]++
		for _, s := range pcm {
			m.history[m.pos] = s
			m.pos = (m.pos + 1) % historyLen
		}
		m.filled = min(historyLen, m.filled+len(pcm))
		m.mu.Unlock()
	}
}

// Packets counts RTP packets received so far.
func (m *Media) Packets() int64 { return m.packets.Load() }

// Sources returns how many packets came from each source address.
func (m *Media) Sources() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int64, len(m.sources))
	for k, v := range m.sources {
		out[k] = v
	}
	return out
}

// ResetStats forgets received audio, counters and sources, so a test can ask
// what arrived after some point (e.g. after a retrieve).
func (m *Media) ResetStats() {
	m.mu.Lock()
	m.sources = map[string]int64{}
	m.filled = 0
	m.mu.Unlock()
	m.packets.Store(0)
}

// recent returns up to the last second of received audio, oldest first.
func (m *Media) recent() []int16 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]int16, 0, m.filled)
	start := (m.pos - m.filled + historyLen) % historyLen
	for i := 0; i < m.filled; i++ {
		out = append(out, m.history[(start+i)%historyLen])
	}
	return out
}

// Level is the largest share, in [0,1], of the signal's energy at freq over
// any 50 ms block of the last second (Goertzel). A pure tone at freq gives
// about 1, silence or other tones about 0.
func (m *Media) Level(freq float64) float64 {
	samples := m.recent()
	best := 0.0
	for off := 0; off+goertzelBlock <= len(samples); off += goertzelBlock {
		block := samples[off : off+goertzelBlock]
		if l := relativePower(block, freq); l > best {
			best = l
		}
	}
	return best
}

// HeardTone reports whether freq dominated some 50 ms of the last second of
// audible (not near-silent) audio.
func (m *Media) HeardTone(freq float64) bool { return m.Level(freq) > 0.5 }

// relativePower is the Goertzel power at freq over the block's total energy,
// scaled so a pure sinusoid at freq scores 1. Near-silent blocks score 0.
func relativePower(x []int16, freq float64) float64 {
	n := float64(len(x))
	var energy float64
	for _, s := range x {
		energy += float64(s) * float64(s)
	}
	if energy/n < 200*200/2 { // below ~-44 dBFS: nobody is talking
		return 0
	}
	coeff := 2 * math.Cos(2*math.Pi*freq/sampleRate)
	var s1, s2 float64
	for _, s := range x {
		s0 := float64(s) + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return power / (n / 2 * energy)
}
