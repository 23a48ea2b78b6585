//go:build !linux

package media

import (
	"errors"
	"net/netip"
)

// muxIO is the platform part of a MuxRelay: recvmmsg/sendmmsg on Linux
// only.
type muxIO struct{}

func listenMux(*MuxRelay, netip.AddrPort, int, int) (*muxIO, netip.AddrPort, error) {
	return nil, netip.AddrPort{}, errors.New("media: the shared-port relay needs Linux (recvmmsg, sendmmsg, SO_REUSEPORT)")
}

func (*muxIO) start()       {}
func (*muxIO) close() error { return nil }
