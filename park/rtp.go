package park

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/parkway/parkway/media/g711"
)

// stream is the park service's end of one call's RTP: its own UDP socket (the
// port our SDP announces, so the peer's symmetric RTP sees the port it sends
// to), a reader that drains and counts what the peer sends, and — once play
// is called — a place in the process's one music-on-hold sender (player).
// Music on hold is anchored here, at the pool that parked the call
// (ARCHITECTURE.md §2).
type stream struct {
	conn     *net.UDPConn
	received atomic.Int64
	open     *atomic.Int64 // the service's count of open streams

	mu       sync.Mutex // orders play against close, so no sending starts after close
	closed   bool
	playing  bool
	stopOnce sync.Once
	wg       sync.WaitGroup

	// Written by play before the stream joins the player, then only by the
	// player's goroutine.
	remote netip.AddrPort
	hdr    rtp.Header
	frames []byte // µ-law or A-law music to loop; nil: silence
	quiet  byte   // the silence byte of the payload type
	pos    int
	sendMu sync.Mutex // held by the player while it sends to this stream
	gone   bool       // guarded by sendMu: closed, the player skips it
}

func newStream(ip net.IP, open *atomic.Int64) (*stream, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
	if err != nil {
		return nil, err
	}
	s := &stream{conn: c, open: open}
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
	if s.closed || s.playing {
		return
	}
	s.playing = true
	s.remote = remote.AddrPort()
	s.hdr = rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: uint16(rand.Uint32()),
		Timestamp: rand.Uint32(), SSRC: rand.Uint32(), Marker: true}
	s.quiet = 0xff // µ-law zero
	s.frames = music
	if pt == g711.PayloadPCMA {
		s.quiet = 0xd5 // A-law zero
		if music != nil {
			s.frames = alawOf(music)
		}
	}
	musicPlayer.add(s)
}

// sendFrame sends the stream's next 20 ms frame; only the player calls it.
// buf holds at least one packet (12 + 160 bytes).
func (s *stream) sendFrame(buf []byte) {
	const frame = 160
	n, err := s.hdr.MarshalTo(buf)
	if err != nil {
		return
	}
	payload := buf[n : n+frame]
	switch {
	case len(s.frames) == 0:
		for i := range payload {
			payload[i] = s.quiet
		}
	default:
		for c := 0; c < frame; {
			k := copy(payload[c:], s.frames[s.pos:])
			c += k
			s.pos = (s.pos + k) % len(s.frames)
		}
	}
	_, _ = s.conn.WriteToUDPAddrPort(buf[:n+frame], s.remote)
	s.hdr.Marker = false
	s.hdr.SequenceNumber++
	s.hdr.Timestamp += frame
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
		playing := s.playing
		s.mu.Unlock()
		if playing {
			musicPlayer.remove(s) // returns once the player is done with s
		}
		s.conn.Close()
		s.wg.Wait()
		s.open.Add(-1)
	})
}

// alaws caches the A-law copy of each music (a service's, read once at New), so
// a call in PCMA does not convert the whole melody again.
var alaws sync.Map // *byte (the music's first sample) → []byte

func alawOf(music []byte) []byte {
	if v, ok := alaws.Load(&music[0]); ok {
		if a := v.([]byte); len(a) == len(music) {
			return a
		}
	}
	a := g711.UlawToAlaw(nil, music)
	alaws.Store(&music[0], a)
	return a
}

// player is the one paced sender of music on hold in the process: every 20 ms it sends
// the next frame of every playing stream, from one goroutine, instead of one goroutine
// and timer per parked call (which cost more than the packets themselves: profile in
// pool/BENCHMARKS.md). It runs while any stream plays and ends when none does.
//
// The player never holds its own lock while sending: it sends from a snapshot of the
// streams, taken again only when one came or went.
type player struct {
	mu      sync.Mutex
	streams map[*stream]struct{}
	dirty   bool // streams changed since the loop's last snapshot
	running bool // the loop goroutine is alive
}

var musicPlayer = &player{streams: map[*stream]struct{}{}}

func (p *player) add(s *stream) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.streams[s] = struct{}{}
	p.dirty = true
	if !p.running {
		p.running = true
		go p.loop()
	}
}

// remove takes s out; once it returns the player no longer touches s or its socket
// (it waits, at most, for the one packet being sent to s right now).
func (p *player) remove(s *stream) {
	s.sendMu.Lock()
	s.gone = true
	s.sendMu.Unlock()
	p.mu.Lock()
	delete(p.streams, s)
	p.dirty = true
	p.mu.Unlock()
}

func (p *player) loop() {
	const interval = 20 * time.Millisecond
	buf := make([]byte, 12+160)
	var snapshot []*stream
	next := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		<-timer.C
		p.mu.Lock()
		if len(p.streams) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		if p.dirty {
			clear(snapshot) // let closed streams go
			snapshot = snapshot[:0]
			for s := range p.streams {
				snapshot = append(snapshot, s)
			}
			p.dirty = false
		}
		p.mu.Unlock()
		for _, s := range snapshot {
			s.sendMu.Lock()
			if !s.gone {
				s.sendFrame(buf)
			}
			s.sendMu.Unlock()
		}
		// Pace on absolute deadlines so scheduling jitter does not accumulate.
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			timer.Reset(d)
		} else {
			next = time.Now() // fell behind (suspended, or overloaded): resync, do not burst
			timer.Reset(0)
		}
	}
}
