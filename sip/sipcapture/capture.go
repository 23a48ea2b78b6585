package sipcapture

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Writer is an open capture file. It is safe for concurrent use.
type Writer struct {
	mu     sync.Mutex
	f      *os.File
	err    error           // the first write error; the capture stops at it
	seq    map[flow]uint32 // next TCP sequence number per direction
	closed bool
}

// flow is one direction of a TCP connection.
type flow struct{ src, dst netip.AddrPort }

// Create creates (or truncates) path and writes the pcap file header.
func Create(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sip capture: %w", err)
	}
	if _, err := f.Write(fileHeader()); err != nil {
		f.Close()
		return nil, fmt.Errorf("sip capture %s: %w", path, err)
	}
	return &Writer{f: f, seq: map[flow]uint32{}}, nil
}

// Message records one SIP message from src to dst over transport ("UDP", "TCP", "TLS",
// "WS", "WSS": all but UDP are written as TCP). Addresses that do not parse, or of
// different families, are skipped.
func (w *Writer) Message(transport string, src, dst string, msg []byte) {
	s, err1 := netip.ParseAddrPort(src)
	d, err2 := netip.ParseAddrPort(dst)
	if err1 != nil || err2 != nil || len(msg) == 0 {
		return
	}
	if s.Addr().Unmap().Is4() != d.Addr().Unmap().Is4() {
		return
	}
	seg := segment{at: time.Now(), src: s, dst: d, tcp: !strings.EqualFold(transport, "UDP"), payload: msg}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.err != nil {
		return
	}
	if seg.tcp {
		f := flow{s, d}
		seq, ok := w.seq[f]
		if !ok {
			seq = 1
		}
		seg.seq, seg.ack = seq, w.seq[flow{d, s}]
		w.seq[f] = seq + uint32(len(msg))
	}
	if _, err := w.f.Write(seg.record()); err != nil {
		w.err = err
	}
}

// Close flushes and closes the file; it reports the first write error, if any.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	w.closed = true
	if err := w.f.Close(); w.err == nil {
		w.err = err
	}
	return w.err
}

// hook is the process-wide sipgo tracer: it hands messages to the current Writer.
type hook struct{ w atomic.Pointer[Writer] }

func (h *hook) SIPTraceRead(transport, laddr, raddr string, msg []byte) {
	if w := h.w.Load(); w != nil {
		w.Message(transport, raddr, laddr, msg)
	}
}

func (h *hook) SIPTraceWrite(transport, laddr, raddr string, msg []byte) {
	if w := h.w.Load(); w != nil {
		w.Message(transport, laddr, raddr, msg)
	}
}

var process = &hook{}

// Running reports whether a capture is running: a caller of Sent checks it first to
// spare formatting the addresses of every message when none is.
func Running() bool { return process.w.Load() != nil }

// Sent records msg, sent from laddr to raddr over transport by a socket write that
// bypasses sipgo's transports (a proxy's stateless relay, say), in the capture running,
// if any: without one it costs an atomic load.
func Sent(transport, laddr, raddr string, msg []byte) {
	if w := process.w.Load(); w != nil {
		w.Message(transport, laddr, raddr, msg)
	}
}

// init installs the hook before any goroutine can run a SIP transport: sipgo reads its
// trace switch and tracer without a lock, so they are set once, here, and never
// changed. Without a capture running, a message costs sipgo's copy of the addresses
// and one atomic load.
func init() {
	sip.SIPDebugTracer(process)
	sip.SIPDebug = true
}

// Start captures every SIP message of this process's sipgo stacks into path until the
// returned stop is called (which closes the file). Only one capture runs at a time.
func Start(path string) (stop func() error, err error) {
	w, err := Create(path)
	if err != nil {
		return nil, err
	}
	if !process.w.CompareAndSwap(nil, w) {
		w.Close()
		return nil, fmt.Errorf("sip capture %s: a capture is already running", path)
	}
	return func() error {
		process.w.CompareAndSwap(w, nil)
		return w.Close()
	}, nil
}
