package park

import (
	"net"
	"sync"
)

// limitListener closes connections beyond max at accept time, so a flood
// of TCP connections cannot grow the service's memory (each sipgo
// connection holds a reader goroutine and buffers).
func limitListener(l net.Listener, max int) net.Listener {
	return &limited{Listener: l, sem: make(chan struct{}, max)}
}

type limited struct {
	net.Listener
	sem chan struct{}
}

func (l *limited) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
			return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
		default:
			c.Close()
		}
	}
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
