package ngrelay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/parkway/parkway/media"
)

// Mode is what forwards a call's packets.
type Mode string

const (
	// ModeRelay: a media.Relay per call, read by the shared poller.
	ModeRelay Mode = "relay"
	// ModeRelayGoroutines: a media.Relay per call with a goroutine per
	// socket, as every Bridge read before the poller.
	ModeRelayGoroutines Mode = "relay-goroutines"
	// ModeRelayShared: every call on one shared port, a media.MuxRelay
	// (recvmmsg/sendmmsg over the calls, one socket per core).
	ModeRelayShared Mode = "relay-shared"
	// ModePlain: the plain Go forwarder, a goroutine per socket doing
	// ReadFrom then WriteTo; no checks, no rewriting. The floor.
	ModePlain Mode = "plain"
)

// ParseMode accepts the names above.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeRelay, ModeRelayGoroutines, ModeRelayShared, ModePlain:
		return m, nil
	}
	return "", fmt.Errorf("ngrelay: unknown mode %q (want %s, %s, %s or %s)", s, ModeRelay, ModeRelayGoroutines, ModeRelayShared, ModePlain)
}

// maxCalls bounds the calls one Server holds, so a client that never
// deletes cannot exhaust the process's descriptors.
const maxCalls = 20000

// call is one relayed call: side 0 faces the caller (offer), side 1 the
// callee (answer).
type call interface {
	addr(side int) netip.AddrPort
	setPeer(side int, a netip.AddrPort) error
	close() error
}

// Server answers ng commands and relays the calls they set up.
type Server struct {
	mode      Mode
	mediaAddr netip.Addr
	shared    *media.MuxRelay // ModeRelayShared's port

	mu    sync.Mutex
	calls map[string]call
}

// NewServer makes a Server whose calls' sockets bind to mediaAddr.
func NewServer(mode Mode, mediaAddr netip.Addr) (*Server, error) {
	return NewServerShared(mode, mediaAddr, nil)
}

// NewServerShared is NewServer with the shared port's configuration for
// ModeRelayShared (nil: defaults; its Addr's IP is mediaAddr).
func NewServerShared(mode Mode, mediaAddr netip.Addr, shared *media.MuxRelayConfig) (*Server, error) {
	if _, err := ParseMode(string(mode)); err != nil {
		return nil, err
	}
	if !mediaAddr.IsValid() {
		return nil, errors.New("ngrelay: no media address")
	}
	s := &Server{mode: mode, mediaAddr: mediaAddr, calls: map[string]call{}}
	if mode == ModeRelayShared {
		var err error
		var cfg media.MuxRelayConfig
		if shared != nil {
			cfg = *shared
		}
		cfg.Addr = netip.AddrPortFrom(mediaAddr, cfg.Addr.Port())
		if s.shared, err = media.NewMuxRelay(&cfg); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Calls is the number of calls held.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// Serve answers the ng datagrams arriving on conn until it is closed.
// A malformed datagram gets an error reply (when it has a cookie) and
// changes nothing.
func (s *Server) Serve(conn *net.UDPConn) error {
	buf := make([]byte, 65536)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if reply := s.Handle(buf[:n]); reply != nil {
			_, _ = conn.WriteToUDPAddrPort(reply, from)
		}
	}
}

// Handle answers one datagram, "<cookie> <bencoded dictionary>"; nil when
// it has no cookie to answer to.
func (s *Server) Handle(pkt []byte) []byte {
	cookie, body, ok := cutCookie(pkt)
	if !ok {
		return nil
	}
	res := map[string]any{}
	if cmd, err := decodeDict(body); err != nil {
		res["result"], res["error-reason"] = "error", err.Error()
	} else if err := s.do(cmd, res); err != nil {
		clear(res)
		res["result"], res["error-reason"] = "error", err.Error()
	}
	out, err := encode(append([]byte(cookie), ' '), res)
	if err != nil {
		return nil
	}
	return out
}

func cutCookie(pkt []byte) (cookie string, body []byte, ok bool) {
	for i, c := range pkt {
		if c == ' ' {
			return string(pkt[:i]), pkt[i+1:], i > 0
		}
	}
	return "", nil, false
}

func (s *Server) do(cmd, res map[string]any) error {
	name, _ := cmd["command"].(string)
	if name == "ping" {
		res["result"] = "pong"
		return nil
	}
	id, _ := cmd["call-id"].(string)
	if id == "" {
		return fmt.Errorf("command %q without call-id", name)
	}
	switch name {
	case "offer", "answer":
		sdp, _ := cmd["sdp"].(string)
		peer, err := SDPAudioAddr(sdp)
		if err != nil {
			return err
		}
		side := 0
		if name == "answer" {
			side = 1
		}
		c, created, err := s.call(id, name == "offer")
		if err != nil {
			return err
		}
		if err := c.setPeer(side, peer); err != nil {
			if created { // a refused offer leaves no call behind
				s.mu.Lock()
				delete(s.calls, id)
				s.mu.Unlock()
				_ = c.close()
			}
			return err
		}
		// The SDP goes to the other party: it sends to the other side.
		res["sdp"] = rewriteSDP(sdp, c.addr(1-side))
	case "delete":
		s.mu.Lock()
		c := s.calls[id]
		delete(s.calls, id)
		s.mu.Unlock()
		if c == nil {
			return fmt.Errorf("unknown call-id %q", id)
		}
		if err := c.close(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unsupported command %q", name)
	}
	res["result"] = "ok"
	return nil
}

// call finds the call id, making it on an offer.
func (s *Server) call(id string, create bool) (c call, created bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.calls[id]; c != nil {
		return c, false, nil
	}
	if !create {
		return nil, false, fmt.Errorf("unknown call-id %q", id)
	}
	if len(s.calls) >= maxCalls {
		return nil, false, fmt.Errorf("%d calls already", maxCalls)
	}
	switch s.mode {
	case ModePlain:
		c, err = newPlainCall(s.mediaAddr)
	case ModeRelayShared:
		var mc *media.MuxCall
		mc, err = s.shared.NewCall()
		c = sharedCall{mc, s.shared.Addr()}
	default:
		var r *media.Relay
		r, err = media.NewRelay(&media.RelayConfig{Addr: s.mediaAddr, GoroutineReaders: s.mode == ModeRelayGoroutines})
		c = relayCall{r}
	}
	if err != nil {
		return nil, false, err
	}
	s.calls[id] = c
	return c, true, nil
}

// Close deletes every call.
func (s *Server) Close() error {
	s.mu.Lock()
	calls := s.calls
	s.calls = map[string]call{}
	s.mu.Unlock()
	var errs []error
	for _, c := range calls {
		errs = append(errs, c.close())
	}
	if s.shared != nil {
		errs = append(errs, s.shared.Close())
	}
	return errors.Join(errs...)
}

type relayCall struct{ r *media.Relay }

func (c relayCall) addr(side int) netip.AddrPort { return c.r.Addr(side) }
func (c relayCall) setPeer(side int, a netip.AddrPort) error {
	return c.r.SetPeer(side, a, false)
}
func (c relayCall) close() error { return c.r.Close() }

// sharedCall is a call on the shared port: both sides' address is the
// port's.
type sharedCall struct {
	c    *media.MuxCall
	port netip.AddrPort
}

func (c sharedCall) addr(int) netip.AddrPort                  { return c.port }
func (c sharedCall) setPeer(side int, a netip.AddrPort) error { return c.c.SetPeer(side, a) }
func (c sharedCall) close() error                             { return c.c.Close() }

// plainCall is the plain Go forwarder: what arrives on one side's socket
// leaves the other's toward that side's peer, byte for byte, from
// whatever source.
type plainCall struct {
	conns [2]*net.UDPConn
	peers [2]atomic.Pointer[netip.AddrPort]
	wg    sync.WaitGroup
}

func newPlainCall(ip netip.Addr) (*plainCall, error) {
	c := &plainCall{}
	for i := range c.conns {
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
		if err != nil {
			_ = c.close()
			return nil, fmt.Errorf("ngrelay: listen %v: %w", ip, err)
		}
		c.conns[i] = conn
	}
	for i := range c.conns {
		c.wg.Add(1)
		go c.forward(i)
	}
	return c, nil
}

func (c *plainCall) forward(side int) {
	defer c.wg.Done()
	in, out := c.conns[side], c.conns[1-side]
	buf := make([]byte, 1500)
	for {
		n, _, err := in.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if to := c.peers[1-side].Load(); to != nil {
			_, _ = out.WriteToUDPAddrPort(buf[:n], *to)
		}
	}
}

func (c *plainCall) addr(side int) netip.AddrPort {
	return c.conns[side].LocalAddr().(*net.UDPAddr).AddrPort()
}

func (c *plainCall) setPeer(side int, a netip.AddrPort) error {
	c.peers[side].Store(&a)
	return nil
}

func (c *plainCall) close() error {
	var errs []error
	for _, conn := range c.conns {
		if conn != nil {
			errs = append(errs, conn.Close())
		}
	}
	c.wg.Wait()
	return errors.Join(errs...)
}
