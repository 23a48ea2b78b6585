// Package sipnet holds what every SIP endpoint in Parkway (pool, park service, gateway
// user agent) needs from the network before sipgo takes over: one host:port bound for
// both UDP and TCP, and a UDP socket (BatchConn) that sipgo's read loop reads with one
// system call for all the datagrams queued at it.
//
// It is one of Parkway's shared SIP helpers under sip/ (see sip/README.md).
package sipnet

import (
	"context"
	"net"
)

// ListenBoth binds UDP and TCP on the same host:port, as SIP expects a server to answer
// on both (RFC 3261 §18). With port 0 it lets UDP pick a free port and tries a few times
// to get TCP on the same one; with a fixed port it tries once.
func ListenBoth(ctx context.Context, addr string) (*net.UDPConn, net.Listener, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	var lc net.ListenConfig
	var lastErr error
	for try := 0; try < 20; try++ {
		pc, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			return nil, nil, err
		}
		udp := pc.(*net.UDPConn)
		tcp, err := lc.Listen(ctx, "tcp", udp.LocalAddr().String())
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		lastErr = err
		if port != "0" {
			break
		}
	}
	return nil, nil, lastErr
}
