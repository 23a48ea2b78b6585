package edge

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/http"
	"time"
)

// A fan-out writes the same state to thousands of sessions. Through coder/websocket
// each write takes the library's two locks (channel-based), frames the payload into the
// connection's own 4 KiB buffer and flushes it: a third of a fan-out worker's CPU
// besides the write system call (BenchmarkFanout's profile). So the hub frames each
// distinct state once (textFrame) and a worker writes those bytes on the connection the
// library was handed at the upgrade (recorded by hijackRecorder), with one Write — on
// plain TCP a direct send system call made inside RawConn.Write, under the same write
// lock as net.Conn.Write (rawwire_linux.go).
//
// Why that cannot corrupt the stream, though the library does not know of it:
//   - every data frame and the close frame the edge sends is written under the
//     outbox's write right (outbox.wmu), by the writer or by a fan-out worker, so the
//     library is never in the middle of one of our frames when a worker writes;
//   - what the library writes by itself — a pong, or the close frame echoing a
//     client's close — is a control frame of at most 127 bytes, which it flushes with
//     a single Write on the same connection; net.Conn and tls.Conn make each Write
//     whole (their write locks), so frames are never interleaved, only ordered;
//   - compression (permessage-deflate) is never negotiated (the edge leaves
//     AcceptOptions.CompressionMode at its default, disabled), so an uncompressed frame
//     is what the library would send too.
// One ordering is possible that the library alone would not produce: a client closes
// at the very moment of a fan-out, the library echoes the close from the reader, and a
// worker's state follows the close frame. RFC 6455 clients discard anything after the
// close frame they have received, so that state is lost with the connection it was for.

// textFrame is payload as one unmasked, final websocket text frame (RFC 6455 §5.2), the
// form a server sends.
func textFrame(payload []byte) []byte {
	n := len(payload)
	var hdr []byte
	switch {
	case n < 126:
		hdr = []byte{0x81, byte(n)}
	case n <= 0xffff:
		hdr = []byte{0x81, 126, 0, 0}
		binary.BigEndian.PutUint16(hdr[2:], uint16(n))
	default:
		hdr = []byte{0x81, 127, 0, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint64(hdr[2:], uint64(n))
	}
	return append(hdr, payload...)
}

// hijackRecorder passes the upgrade's ResponseWriter to coder/websocket and keeps the
// connection its Hijack hands over: the one the library writes to, TLS included.
type hijackRecorder struct {
	http.ResponseWriter
	conn net.Conn
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	c, rw, err := hj.Hijack()
	h.conn = c
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (h *hijackRecorder) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// writeWire writes a state framed by textFrame on the upgraded connection, bypassing
// the library (see above); the caller holds the write right. Like write, it closes the
// connection when the write fails and reports whether it succeeded.
func (s *Session) writeWire(wire []byte) bool {
	s.writeStart.Store(time.Now().UnixNano())
	var err error
	if s.wire != nil {
		err = s.wire.write(wire) // rawwire_linux.go
	} else {
		_, err = s.upgraded.Write(wire)
	}
	return s.wrote(err)
}
