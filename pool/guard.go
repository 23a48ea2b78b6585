package pool

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/sip/inorder"
)

// Limits on what the network may make the pool hold. sipgo reads into 32 KiB buffers and
// caps a stream message at sip.ParseMaxMessageLength (64 KiB); we apply our own, smaller
// cap before sipgo sees anything.
const maxMessageSize = 16 * 1024

// guardParser is used only to vet datagrams before sipgo parses them; sip.Parser keeps
// no per-message state, so one is shared.
var guardParser = sip.NewParser()

// readFilter vets every UDP datagram before sipgo parses it. sipgo drops an unparseable
// datagram silently; we answer 400 when the request can be identified (salvageResponse)
// and drop it otherwise (RFC 3261 §18.3). Oversized datagrams get 513. TCP is vetted by
// framedConn instead, because a filter sees arbitrary stream chunks, not messages.
func (n *node) readFilter(props sip.TransportReadProps, data []byte) ([]byte, error) {
	if props.Transport != "UDP" {
		return data, nil
	}
	if n.ping != nil && n.ping.arrived(props.RemoteAddr) {
		return nil, nil // the overload gate's ping, noted
	}
	if len(data) <= 4 {
		return data, nil // CRLF keep-alives, handled by sipgo
	}
	code, reason := 400, "Bad Request"
	if len(data) > maxMessageSize {
		code, reason = 513, "Message Too Large"
	} else if vetted, c, r := vetMessage(data); c != 0 {
		code, reason = c, r
	} else if s, ok := inorder.Scan(vetted); ok && s.Response() && strings.HasPrefix(s.Branch(), statelessPrefix) {
		// The answer to a request relayed statelessly: on by the next Via (stateless.go).
		n.pool.overload.saw()
		n.relayResponseStateless(s, vetted)
		return nil, nil
	} else if ok && s.Response() {
		// A response needs nothing of the filter but its place in its dialog's order,
		// which Scan reads without parsing it: sipgo parses it next anyway (a response
		// it cannot parse it drops, as this filter did).
		n.order.ArrivedScanned(s)
		n.pool.overload.saw()
		return vetted, nil
	} else if ok && s.InDialog() && strings.HasPrefix(s.Branch(), sip.RFC3261BranchMagicCookie) {
		// An in-dialog request: nothing the filter does with it needs more than Scan
		// reads (issue #12: three in four requests of a park cycle are in a dialog, and
		// each was parsed here and again by sipgo). admitScanned is admit for a request
		// with a To tag; it only parses to build a 503.
		if n.retransmitted(s.Method(), s.Branch(), props.RemoteAddr) {
			return nil, nil // answered again from its ended transaction (earlyend.go)
		}
		if s.Method() != string(sip.OPTIONS) {
			n.pool.overload.saw()
		}
		if !n.admitScanned(s, props.RemoteAddr, vetted) {
			return nil, nil
		}
		if s.Method() == string(sip.ACK) && strings.HasPrefix(s.ToTag(), floodTagPrefix) {
			return nil, nil // the ACK for a flood 503: nothing to relay
		}
		if n.relayStateless(s, vetted, props.RemoteAddr) {
			return nil, nil // relayed from here, in arrival order (stateless.go)
		}
		if s.Method() == string(sip.ACK) && n.rejectedInviteFrom(s.Branch(), props.RemoteAddr) {
			// The ACK of a non-2xx answer: the INVITE's transaction takes it and no
			// handler sees it, so it is not put in the dialog's order, where it would
			// hold the next request for inorder's MaxWait.
			return vetted, nil
		}
		n.order.ArrivedScanned(s)
		if !s.Rport() {
			return withRport(vetted), nil // symmetric.go, as below
		}
		return vetted, nil
	} else if m, err := guardParser.ParseSIP(vetted); err == nil {
		data = vetted
		// This goroutine reads the socket in arrival order; sipgo's next step hands
		// the message to a goroutine of its own (package inorder).
		switch m := m.(type) {
		case *sip.Request:
			if n.retransmitted(string(m.Method), viaBranch(m), props.RemoteAddr) {
				return nil, nil
			}
			if m.Method != sip.OPTIONS {
				n.pool.overload.saw()
			}
			m.SetSource(props.RemoteAddr.String())
			m.SetTransport("UDP")
			if e := n.admit(m); e != nil {
				n.refuseStateless(m, e, props.RemoteAddr)
				return nil, nil
			}
			if e := n.vacantRetrieve(m); e != nil {
				n.refuseStateless(m, e, props.RemoteAddr) // its ACK is dropped as a flood 503's
				return nil, nil
			}
			if m.IsCancel() {
				// sipgo answers the INVITE 487 itself: its ACK is the transaction's.
				if ap, ok := addrPort(props.RemoteAddr); ok {
					n.noteRejectedInvite(viaBranch(m), ap)
				}
			}
			if m.IsAck() {
				if tag, _ := m.To().Params.Get("tag"); strings.HasPrefix(tag, floodTagPrefix) {
					return nil, nil // the ACK for a flood 503: nothing to relay
				}
			}
			n.order.Arrived(m)
			if branch2543(m) {
				if v := m.Via(); !v.Params.Has("rport") {
					v.Params.Add("rport", "")
				}
				return []byte(m.String()), nil
			}
			if v := m.Via(); v != nil && !v.Params.Has("rport") {
				// Answer to the packet's source (symmetric.go): sipgo decides where
				// answers go as it parses, from rport, so the request it parses asks.
				return withRport(data), nil
			}
		case *sip.Response:
			n.order.ArrivedResponse(m)
		}
		return data, nil
	}
	if res := salvageResponse(data, code, reason); res != nil {
		if err := n.sendUDPTo(res, props.RemoteAddr); err != nil {
			n.log.Debug("bad request reply failed", "error", err)
		}
	}
	n.log.Debug("dropped malformed datagram", "from", props.RemoteAddr.String(), "bytes", len(data))
	return nil, nil
}

// admitScanned is admit for an in-dialog UDP request read by Scan (no overload check
// applies to one: admitOverload lets every request with a To tag in). A request over its
// source's flood limit is parsed to be refused statelessly; false then, and for one that
// does not parse (sipgo would drop it).
func (n *node) admitScanned(s inorder.Scanned, src net.Addr, data []byte) bool {
	switch sip.RequestMethod(s.Method()) {
	case sip.OPTIONS, sip.ACK, sip.CANCEL:
		return true
	}
	ap, ok := addrPort(src)
	if ok {
		for _, e := range n.elements() {
			if ap.Addr().Unmap() == e.Addr().Unmap() && ap.Port() == e.Port() {
				return true // trusted: sameElement over UDP
			}
		}
	}
	if n.pool.flood.admit(sourceIP(src.String()), time.Now()) { // the key admit uses
		return true
	}
	m, err := guardParser.ParseSIP(data)
	req, isReq := m.(*sip.Request)
	if err != nil || !isReq {
		return false
	}
	req.SetSource(src.String())
	req.SetTransport("UDP")
	if e := n.admit(req); e != nil {
		n.refuseStateless(req, e, src)
		return false
	}
	return true // the bucket refilled in between
}

// addrPort is a UDP source as a netip.AddrPort, without formatting it.
func addrPort(a net.Addr) (netip.AddrPort, bool) {
	if u, ok := a.(*net.UDPAddr); ok {
		return u.AddrPort(), true
	}
	ap, err := netip.ParseAddrPort(a.String())
	return ap, err == nil
}

// refuseStateless answers a UDP request with e without a transaction: the flood gate's
// 503 costs the pool no state, and its To tag lets readFilter drop the ACK that follows.
func (n *node) refuseStateless(req *sip.Request, e *sipError, to net.Addr) {
	res := e.response(req)
	if h := res.To(); h != nil && !inDialog(req) {
		// Our own tag replaces the one sipgo made up (a UUID), so the ACK for this 503
		// is known as such and dropped — relayed, it would reach the callee as an ACK
		// for a call it never saw.
		h.Params.Add("tag", floodTagPrefix+sip.GenerateTagN(8))
	}
	if req.IsInvite() && inDialog(req) {
		if ap, ok := addrPort(to); ok {
			n.noteRejectedInvite(viaBranch(req), ap) // its ACK is not relayed (stateless.go)
		}
	}
	if err := n.sendUDPTo([]byte(res.String()), to); err != nil {
		n.log.Debug("flood reply failed", "error", err)
	}
}

// guardedListener bounds concurrent TCP connections and wraps each in a framedConn.
// Over the limit a new connection is closed at once: the pool keeps serving the
// connections it has rather than failing all of them.
type guardedListener struct {
	net.Listener
	sem     chan struct{}
	idle    time.Duration
	log     *slog.Logger
	arrived func(*sip.Request) // told of each request a connection frames, in order
}

func newGuardedListener(l net.Listener, max int, idle time.Duration, log *slog.Logger, arrived func(*sip.Request)) *guardedListener {
	return &guardedListener{Listener: l, sem: make(chan struct{}, max), idle: idle, log: log, arrived: arrived}
}

// Accept returns only when it has a connection to serve or the listener is closed:
// sipgo stops serving on any Accept error.
func (g *guardedListener) Accept() (net.Conn, error) {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return nil, err
		}
		select {
		case g.sem <- struct{}{}:
			fc := newFramedConn(c, g.idle, func() { <-g.sem })
			fc.arrived = g.arrived
			return fc, nil
		default:
			g.log.Warn("tcp connection limit reached, closing new connection", "from", c.RemoteAddr().String())
			c.Close()
		}
	}
}

// release runs once when a framed connection closes.
type release struct {
	once sync.Once
	f    func()
}

func (r *release) do() { r.once.Do(r.f) }
