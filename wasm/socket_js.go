package main

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"syscall/js"
)

// socket is the browser's own WebSocket behind a small blocking Go API: what the
// client needs of a websocket and nothing more. A Go websocket library compiled to
// wasm brings net/http, compression and a TLS stack the browser already has; this
// file is what the client keeps of it (issue 12: ≈ 2 MB less to download).
//
// The browser queues outgoing frames itself, so write never blocks. Incoming frames
// are queued here, without a bound, because a js.Func callback must not block the
// event loop; the gateway limits what it sends (one state at a time, heartbeats).
type socket struct {
	ws        js.Value
	listeners []listener

	mu     sync.Mutex
	frames [][]byte
	closed *closeError // set once, by onclose
	notify chan struct{}
}

// closeError is how a socket ended: the close frame's code and reason, or 1006 when the
// connection dropped without one.
type closeError struct {
	Code   int
	Reason string
}

func (e *closeError) Error() string {
	if e.Reason == "" {
		return "websocket closed (" + strconv.Itoa(e.Code) + ")"
	}
	return "websocket closed (" + strconv.Itoa(e.Code) + " " + e.Reason + ")"
}

// closeCode returns the close code in err, or 0 when err is not a close.
func closeCode(err error) int {
	var ce *closeError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

// The browser's WebSocket readyState values the client tells apart.
const (
	wsConnecting = 0
	wsOpen       = 1
)

// Close codes the client sends or tells apart.
const (
	// closeNormal is what the client closes with: a page's script may only send 1000
	// or 3000–4999 (the browser throws otherwise), so "going away" is the reason's.
	closeNormal          = 1000
	closeAbnormal        = 1006 // the browser's code for a drop without a close frame
	closePolicyViolation = 1008
)

// dialSocket opens a websocket to url and returns once it is open.
func dialSocket(ctx context.Context, url string) (*socket, error) {
	ws, err := newWebSocket(url)
	if err != nil {
		return nil, err
	}
	return openSocket(ctx, ws)
}

// openSocket takes over the browser's websocket ws, connecting or already open (one
// boot.js opened: early_js.go), and returns once it is open.
func openSocket(ctx context.Context, ws js.Value) (*socket, error) {
	s := &socket{ws: ws, notify: make(chan struct{}, 1)}
	opened := make(chan struct{}, 1)
	if ws.Get("readyState").Int() == wsOpen {
		signal(opened)
	}
	s.on("open", func(js.Value) { signal(opened) })
	s.on("message", func(ev js.Value) {
		data := ev.Get("data")
		var b []byte
		if data.Type() == js.TypeString {
			b = []byte(data.String())
		} else { // binaryType "arraybuffer"
			arr := js.Global().Get("Uint8Array").New(data)
			b = make([]byte, arr.Get("length").Int())
			js.CopyBytesToGo(b, arr)
		}
		s.mu.Lock()
		s.frames = append(s.frames, b)
		s.mu.Unlock()
		signal(s.notify)
	})
	s.on("close", func(ev js.Value) {
		code := ev.Get("code").Int()
		if code == 0 {
			code = closeAbnormal
		}
		s.mu.Lock()
		if s.closed == nil {
			s.closed = &closeError{Code: code, Reason: ev.Get("reason").String()}
		}
		s.mu.Unlock()
		signal(s.notify)
		signal(opened)
	})
	select {
	case <-opened:
	case <-ctx.Done():
		s.Close(closeNormal, "dial timed out")
		s.release()
		return nil, wrap("websocket did not open", ctx.Err())
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed != nil {
		s.release()
		// The browser does not say why a handshake failed (by design); the console has it.
		return nil, wrap("the websocket did not open", closed)
	}
	return s, nil
}

func newWebSocket(url string) (ws js.Value, err error) {
	defer func() {
		// The constructor throws a SyntaxError for a bad URL.
		if r := recover(); r != nil {
			err = wrap("websocket", thrown(r))
		}
	}()
	ws = js.Global().Get("WebSocket").New(url)
	ws.Set("binaryType", "arraybuffer")
	return ws, nil
}

// listener is one event handler on the browser's socket, kept to remove it.
type listener struct {
	event string
	fn    js.Func
}

func (s *socket) on(event string, fn func(ev js.Value)) {
	f := js.FuncOf(func(this js.Value, args []js.Value) any {
		fn(arg0(args))
		return nil
	})
	s.listeners = append(s.listeners, listener{event, f})
	s.ws.Call("addEventListener", event, f)
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Read returns the next frame, or the close once every frame before it was read.
func (s *socket) Read(ctx context.Context) ([]byte, error) {
	for {
		s.mu.Lock()
		if len(s.frames) > 0 {
			b := s.frames[0]
			s.frames[0] = nil
			s.frames = s.frames[1:]
			s.mu.Unlock()
			return b, nil
		}
		closed := s.closed
		s.mu.Unlock()
		if closed != nil {
			s.release()
			return nil, closed
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Write sends one text frame. The browser buffers it; an error means the socket is no
// longer open.
func (s *socket) Write(b []byte) error {
	if st := s.ws.Get("readyState").Int(); st != wsOpen {
		return errors.New("websocket not open (state " + strconv.Itoa(st) + ")")
	}
	s.ws.Call("send", string(b))
	return nil
}

// Close starts the close handshake and returns at once: the close event ends Read. A
// socket the browser will not close (already closed, a code it refuses) is no error.
func (s *socket) Close(code int, reason string) {
	if _, err := jsCall(s.ws, "close", code, reason); err != nil {
		global.Get("console").Call("warn", "parkway: websocket close:", err.Error())
	}
}

// release removes the event handlers and frees them; the socket is of no more use.
func (s *socket) release() {
	s.mu.Lock()
	listeners := s.listeners
	s.listeners = nil
	s.mu.Unlock()
	for _, l := range listeners {
		s.ws.Call("removeEventListener", l.event, l.fn)
		l.fn.Release()
	}
}
