//go:build !linux

package rtpload

import (
	"errors"
	"sync"
)

// The load generator's batched sockets (sendmmsg with a source address
// per message, recvmmsg with kernel time stamps) are Linux's.

type sendMsg struct{}

func (*sendMsg) build(*party) {}

type loadIO struct{ sendWG sync.WaitGroup }

func openSockets(*run, int) (*loadIO, uint16, error) {
	return nil, 0, errors.New("rtpload: the load generator runs on Linux only")
}

func (*loadIO) start() {}
func (*loadIO) stop()  {}
func (*loadIO) close() {}

func realtime() error { return errors.New("rtpload: the high-priority load is Linux's") }
