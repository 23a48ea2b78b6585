package park

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/parkway/parkway/media/g711"
)

// stream is the park service's end of one call's RTP: its own UDP socket,
// a paced sender of music (or silence) and a reader that drains and counts
// what the peer sends. Music on hold is anchored here, at the pool that
// parked the call (ARCHITECTURE.md §2).
type stream struct {
	conn     *net.UDPConn
	received atomic.Int64
	open     *atomic.Int64 // the service's count of open streams

	mu        sync.Mutex // orders play against close, so no sender starts after close
	closed    bool
	startOnce sync.Once
	stopOnce  sync.Once
	stop      chan struct{}
	wg        sync.WaitGroup
}

func newStream(ip net.IP, open *atomic.Int64) (*stream, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
	if err != nil {
		return nil, err
	}
	s := &stream{conn: c, stop: make(chan struct{}), open: open}
	open.Add(1)
	s.wg.Add(1)
	go s.drain()
	return s, nil
}

func (s *stream) localAddr() *net.UDPAddr { return s.conn.LocalAddr().(*net.UDPAddr) }

// play starts sending music (µ-law, looped) to remote as payload type pt,
// one 160-sample frame every 20 ms (RFC 3551 §4.5). A nil music sends
// silence. Only the first call has an effect.
func (s *stream) play(remote *net.UDPAddr, pt uint8, music []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.startOnce.Do(func() {
		frames := music
		silence := byte(0xff) // µ-law zero
		if pt == g711.PayloadPCMA {
			silence = 0xd5 // A-law zero
			if music != nil {
				frames = g711.UlawToAlaw(nil, music)
			}
		}
		s.wg.Add(1)
		go s.send(remote, pt, frames, silence)
	})
}

func (s *stream) send(remote *net.UDPAddr, pt uint8, music []byte, silence byte) {
	defer s.wg.Done()
	const frame = 160
	hdr := rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: uint16(rand.Uint32()),
		Timestamp: rand.Uint32(), SSRC: rand.Uint32(), Marker: true}
	payload := make([]byte, frame)
	buf := make([]byte, 12+frame)
	pos := 0
	// Pace on absolute deadlines so scheduling jitter does not accumulate.
	next := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-timer.C:
		}
		for i := range payload {
			if len(music) == 0 {
				payload[i] = silence
				continue
			}
			payload[i] = music[pos]
			pos = (pos + 1) % len(music)
		}
		n, err := hdr.MarshalTo(buf)
		if err == nil {
			copy(buf[n:], payload)
			_, _ = s.conn.WriteToUDP(buf[:n+frame], remote)
		}
		hdr.Marker = false
		hdr.SequenceNumber++
		hdr.Timestamp += frame
		next = next.Add(20 * time.Millisecond)
		if d := time.Until(next); d > 0 {
			timer.Reset(d)
		} else {
			next = time.Now() // fell behind (suspended?): resync, do not burst
			timer.Reset(0)
		}
	}
}

func (s *stream) drain() {
	defer s.wg.Done()
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.conn.ReadFromUDP(buf); err != nil {
			return
		}
		s.received.Add(1)
	}
}

func (s *stream) close() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.stop)
		s.conn.Close()
		s.wg.Wait()
		s.open.Add(-1)
	})
}
