package park

import (
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/parkway/parkway/media/g711"
)

// stream is the park service's end of one call's RTP: a place on the process's one
// media socket for its IP (mediaSocket: the port our SDP announces, shared by every
// call, so the peer's symmetric RTP sees the port it sends to) and — once play is
// called — a place in the process's one music-on-hold sender (player), which sends the
// frames of every playing stream of a socket with one system call (sendmmsg).
// Music on hold is anchored here, at the pool that parked the call
// (ARCHITECTURE.md §2).
type stream struct {
	sock *mediaSocket
	open *atomic.Int64 // the service's count of open streams

	mu       sync.Mutex // orders play against close, so no sending starts after close
	closed   bool
	playing  bool
	stopOnce sync.Once

	// Written by play before the stream joins the player, then only by the
	// player's goroutine.
	remote *net.UDPAddr
	hdr    rtp.Header
	frames []byte // µ-law or A-law music to loop; nil: silence
	quiet  byte   // the silence byte of the payload type
	pos    int
	sendMu sync.Mutex // held by the player from building this stream's packet until it is sent
	gone   bool       // guarded by sendMu: closed, the player skips it
}

func newStream(ip net.IP, open *atomic.Int64) (*stream, error) {
	ms, err := acquireMediaSocket(ip)
	if err != nil {
		return nil, err
	}
	open.Add(1)
	return &stream{sock: ms, open: open}, nil
}

func (s *stream) localAddr() *net.UDPAddr { return s.sock.conn.LocalAddr().(*net.UDPAddr) }

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
	r := *remote
	s.remote = &r
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

// rtpPacketSize is one packet of music: a 12-byte RTP header and 20 ms of G.711.
const rtpPacketSize = 12 + 160

// nextFrame writes the stream's next 20 ms packet into buf (rtpPacketSize bytes) and
// returns its length, 0 if it has none; only the player calls it.
func (s *stream) nextFrame(buf []byte) int {
	const frame = 160
	n, err := s.hdr.MarshalTo(buf)
	if err != nil {
		return 0
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
	s.hdr.Marker = false
	s.hdr.SequenceNumber++
	s.hdr.Timestamp += frame
	return n + frame
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
		s.sock.release()
		s.open.Add(-1)
	})
}

// mediaSocket is the one UDP socket of the process for the park service's RTP on one
// IP, shared by every stream on it: a call needs no port of its own (what the peers
// send is only drained and counted), and one socket lets the player send every call's
// music on hold with one sendmmsg a batch instead of one sendto a packet. It is opened
// by the first stream on its IP and closed with the last.
type mediaSocket struct {
	conn     *net.UDPConn
	batch    batchWriter
	key      string
	refs     int // streams using it; guarded by mediaSockets.mu
	received atomic.Int64
	drained  sync.WaitGroup
}

// batchWriter sends several datagrams with one system call (golang.org/x/net's
// WriteBatch: sendmmsg on Linux, one sendmsg each elsewhere).
type batchWriter interface {
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

var mediaSockets = struct {
	mu sync.Mutex
	m  map[string]*mediaSocket
}{m: map[string]*mediaSocket{}}

func acquireMediaSocket(ip net.IP) (*mediaSocket, error) {
	key := ip.String()
	mediaSockets.mu.Lock()
	defer mediaSockets.mu.Unlock()
	if ms := mediaSockets.m[key]; ms != nil {
		ms.refs++
		return ms, nil
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
	if err != nil {
		return nil, err
	}
	// Many calls' RTP arrives here; a burst must not be lost while the drain waits for
	// a CPU (the kernel caps this at net.core.rmem_max).
	_ = c.SetReadBuffer(1 << 20)
	ms := &mediaSocket{conn: c, key: key, refs: 1}
	if ip.To4() != nil {
		ms.batch = ipv4.NewPacketConn(c)
	} else {
		ms.batch = ipv6.NewPacketConn(c)
	}
	mediaSockets.m[key] = ms
	ms.drained.Add(1)
	go ms.drain()
	return ms, nil
}

// release gives up one stream's use of ms; the last one closes it.
func (ms *mediaSocket) release() {
	mediaSockets.mu.Lock()
	ms.refs--
	last := ms.refs == 0
	if last {
		delete(mediaSockets.m, ms.key)
	}
	mediaSockets.mu.Unlock()
	if last {
		ms.conn.Close()
		ms.drained.Wait()
	}
}

func (ms *mediaSocket) drain() {
	defer ms.drained.Done()
	buf := make([]byte, 1500)
	for {
		if _, _, err := ms.conn.ReadFromUDP(buf); err != nil {
			return
		}
		ms.received.Add(1)
	}
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
// pool/BENCHMARKS.md), and the frames of one socket's streams go out in batches of up to
// maxBatch with one sendmmsg each. It runs while any stream plays and ends when none does.
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

// remove takes s out; once it returns the player no longer touches s and sends it
// nothing (it waits, at most, for the batch holding s's packet to be sent).
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
	var (
		snapshot []*stream
		socks    []*mediaSocket
		batch    playerBatch
	)
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
			snapshot, socks = p.snapshot(snapshot[:0], socks[:0])
			p.dirty = false
		}
		p.mu.Unlock()
		for _, s := range snapshot {
			if batch.full() || len(batch.streams) > 0 && batch.streams[0].sock != s.sock {
				batch.send()
			}
			s.sendMu.Lock() // until the batch with its packet is sent: see remove
			if s.gone {
				s.sendMu.Unlock()
				continue
			}
			batch.add(s)
		}
		batch.send()
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

// snapshot appends the playing streams to into, those of one socket next to each other
// so they go out in one batch, and returns it with the sockets seen. There are as many
// sockets as media addresses, one or two: a pass over the streams per socket, not a sort.
// The snapshot is taken again whenever a call parks or leaves, which at a few hundred
// parks a second is every round, and sorting it cost more than sending it (2.4 % of the
// pool's CPU at 300 cycles/s, issue #12). Called with p.mu held.
func (p *player) snapshot(into []*stream, socks []*mediaSocket) ([]*stream, []*mediaSocket) {
	for s := range p.streams {
		if len(socks) == 0 || s.sock != socks[len(socks)-1] && !slices.Contains(socks, s.sock) {
			socks = append(socks, s.sock)
		}
		if s.sock == socks[0] {
			into = append(into, s)
		}
	}
	for _, k := range socks[1:] {
		for s := range p.streams {
			if s.sock == k {
				into = append(into, s)
			}
		}
	}
	return into, socks
}

// playerBatch is the packets of up to maxBatch streams of one socket, sent with one
// WriteBatch. Each stream in it stays locked (sendMu) until it is sent.
type playerBatch struct {
	streams []*stream
	msgs    []ipv4.Message
	bufs    [][]byte // one packet buffer per message, reused
}

const maxBatch = 128

func (b *playerBatch) full() bool { return len(b.streams) == maxBatch }

func (b *playerBatch) add(s *stream) {
	i := len(b.streams)
	if i == len(b.bufs) {
		b.bufs = append(b.bufs, make([]byte, rtpPacketSize))
		b.msgs = append(b.msgs, ipv4.Message{Buffers: make([][]byte, 1)})
	}
	n := s.nextFrame(b.bufs[i])
	if n == 0 {
		s.sendMu.Unlock()
		return
	}
	b.msgs[i].Buffers[0] = b.bufs[i][:n]
	b.msgs[i].Addr = s.remote
	b.streams = append(b.streams, s)
}

// send writes the batch (what the kernel does not take in one call is written by the
// next) and unlocks its streams. A packet that cannot be sent is dropped, as RTP over
// UDP is anyway.
func (b *playerBatch) send() {
	if len(b.streams) == 0 {
		return
	}
	w := b.streams[0].sock.batch
	for off := 0; off < len(b.streams); {
		n, err := w.WriteBatch(b.msgs[off:len(b.streams)], 0)
		if err != nil || n <= 0 {
			n = 1 // skip the packet the kernel refused (e.g. an unreachable address)
		}
		off += n
	}
	for i, s := range b.streams {
		b.msgs[i].Addr = nil
		s.sendMu.Unlock()
	}
	clear(b.streams)
	b.streams = b.streams[:0]
}
