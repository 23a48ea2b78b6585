package pool

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// framedConn sits between a TCP connection and sipgo. It frames the stream into SIP
// messages itself (RFC 3261 §18.3: header block, then Content-Length bytes of body) so it
// can (1) answer a malformed request with 400 and keep the connection, (2) refuse a
// message over maxMessageSize with 513 before buffering it, and (3) close a connection
// that stays idle. sipgo then only ever reads whole, parseable messages.
type framedConn struct {
	net.Conn
	idle    time.Duration
	rel     *release
	in      []byte // bytes read from the network, not yet framed
	out     []byte // a vetted message (or keep-alive) waiting for sipgo's Read
	buf     []byte
	closing bool
	// arrived, when set, is told of every request framed, in stream order, before
	// sipgo reads it (package inorder).
	arrived func(*sip.Request)
}

func newFramedConn(c net.Conn, idle time.Duration, onClose func()) *framedConn {
	return &framedConn{Conn: c, idle: idle, rel: &release{f: onClose}, buf: make([]byte, 4096)}
}

func (c *framedConn) Close() error {
	c.rel.do()
	return c.Conn.Close()
}

func (c *framedConn) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.closing {
			return 0, io.EOF
		}
		if err := c.frame(); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// fill reads more bytes from the network.
func (c *framedConn) fill() error {
	if c.idle > 0 {
		c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	}
	n, err := c.Conn.Read(c.buf)
	c.in = append(c.in, c.buf[:n]...)
	if n > 0 {
		return nil
	}
	return err
}

// frame produces the next vetted message (or keep-alive) into c.out.
func (c *framedConn) frame() error {
	// Keep-alives between messages pass through as-is; sipgo answers a double CRLF.
	if k := min(leadingCRLF(c.in), 4); k > 0 {
		c.out = append(c.out[:0], c.in[:k]...)
		c.in = c.in[k:]
		return nil
	}
	end := bytes.Index(c.in, []byte("\r\n\r\n"))
	if end < 0 {
		if len(c.in) > maxMessageSize {
			c.reject(c.in, 513, "Message Too Large")
			c.closing = true // no boundary to resynchronise on
			return nil
		}
		return c.fill()
	}
	headerLen := end + 4
	cl, ok := contentLength(c.in[:end])
	if !ok {
		// §18.3: Content-Length is mandatory on a stream; without a valid one there is
		// no telling where the next message starts.
		c.reject(c.in[:headerLen], 400, "Bad Or Missing Content-Length")
		c.closing = true
		return nil
	}
	if headerLen+cl > maxMessageSize {
		c.reject(c.in[:headerLen], 513, "Message Too Large")
		c.closing = true
		return nil
	}
	for len(c.in) < headerLen+cl {
		if err := c.fill(); err != nil {
			return err
		}
	}
	msg := c.in[:headerLen+cl]
	if vetted, code, reason := vetMessage(msg); code != 0 {
		c.reject(msg, code, reason)
	} else if m, err := guardParser.ParseSIP(vetted); err != nil {
		c.reject(msg, 400, "Bad Request")
	} else {
		if req, ok := m.(*sip.Request); ok {
			if branch2543(req) {
				vetted = []byte(req.String())
			}
			if c.arrived != nil {
				c.arrived(req)
			}
		}
		c.out = append(c.out[:0], vetted...)
	}
	c.in = append(c.in[:0], c.in[headerLen+cl:]...)
	return nil
}

func (c *framedConn) reject(raw []byte, code int, reason string) {
	if res := salvageResponse(raw, code, reason); res != nil {
		c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		c.Conn.Write(res)
		c.Conn.SetWriteDeadline(time.Time{})
	}
}

func leadingCRLF(b []byte) int {
	i := 0
	for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// contentLength finds Content-Length (or its compact form "l") in a header block.
func contentLength(head []byte) (int, bool) {
	found := -1
	for _, line := range strings.Split(string(head), "\r\n")[1:] {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "content-length" && name != "l" {
			continue
		}
		v, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil || v < 0 || (found >= 0 && found != v) {
			return 0, false
		}
		found = v
	}
	return found, found >= 0
}
