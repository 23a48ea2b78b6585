//go:build !linux

package media

import (
	"errors"
	"net"
	"net/netip"
)

// Off Linux there is no epoll/recvmmsg poller: every bridge reads its
// SIP socket with a goroutine of its own (see poller_linux.go).
type rtpPoller struct{}

type pollReg struct{}

func defaultPoller() (*rtpPoller, error) { return nil, errors.New("media: no RTP poller on this OS") }

func (p *rtpPoller) add(*net.UDPConn, func([]byte, netip.AddrPort)) (*pollReg, error) {
	return nil, errors.New("media: no RTP poller on this OS")
}

func (r *pollReg) remove() {}
