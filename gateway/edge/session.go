package edge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/parkway/parkway/gateway/auth"
	"github.com/parkway/parkway/signaling"
)

// Authentication states of a session. The reader moves pending → ok when a valid auth
// frame arrives; the writer moves pending → expired when AuthTimeout passes first. The
// compare-and-swap makes exactly one of them win.
const (
	authPending int32 = iota
	authOK
	authExpired
)

// Session is one browser tab's websocket: see the package comment for its two
// goroutines. The phone holds it to answer the tab (Reply, Offer) and to push it the
// state again when its focus call changes (Refocus).
type Session struct {
	srv  *Server
	conn *websocket.Conn
	raw  net.Conn // the TCP connection under conn, when the server was given ConnContext
	// upgraded is the connection conn writes to, as the upgrade handed it over (TLS
	// included), or nil when unknown; fan-out workers write states on it (wire.go).
	upgraded net.Conn
	out      *outbox
	id       string
	log      *slog.Logger

	auth   atomic.Int32
	claims auth.Claims // written by the reader before auth becomes authOK
	// expires is when the session's token expires (Unix ns), set by the reader at auth
	// and at every re-authentication; the writer closes the session when it passes.
	expires  atomic.Int64
	prompted int64         // the expiry a reauth was sent for (writer only; reauth.go)
	limit    *messageLimit // nil: no limit; only the reader uses it
	lastSeen atomic.Int64
	// writeStart is when the write in progress began (Unix ns), 0 between writes: the
	// server's watchdog closes sessions stuck in one (watchdog.go).
	writeStart atomic.Int64
	// calls are the user's calls, set at auth by Config.Phone (NoCalls without one or
	// before auth); the hub reads them only for sessions it holds.
	calls Calls
	// wire writes on upgraded with a direct system call (rawwire_linux.go), or is nil
	// (TLS, or not Linux): then the fan-out writes with upgraded.Write.
	wire *rawWire
}

// bufPool holds read buffers of one maximum message each, so 10,000 idle sessions hold
// no 64 KiB buffers: a buffer is taken for one message and given back.
var bufPool = sync.Pool{New: func() any { b := make([]byte, signaling.MaxMessageSize+1); return &b }}

func newSession(srv *Server, conn *websocket.Conn) *Session {
	id := make([]byte, 8)
	rand.Read(id)
	s := &Session{srv: srv, conn: conn, out: newOutbox(srv.cfg.SendQueue), id: hex.EncodeToString(id), calls: NoCalls{}}
	s.log = srv.log.With("session", s.id)
	if srv.cfg.MessageRate > 0 {
		s.limit = newMessageLimit(srv.cfg.MessageRate, max(1, srv.cfg.MessageBurst), time.Now())
	}
	s.seen()
	return s
}

func (s *Session) seen() { s.lastSeen.Store(time.Now().UnixNano()) }

func (s *Session) focus() signaling.CallState { return s.calls.Focus() }

// ID is the session's id, as its welcome says.
func (s *Session) ID() string { return s.id }

// User is the user the session authenticated as ("" before auth).
func (s *Session) User() string { return s.claims.User }

// run serves the session until it ends, and returns only when both its goroutines have.
func (s *Session) run() {
	readCtx, cancelRead := context.WithCancel(context.Background())
	readerDone := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		defer close(s.out.stopped)
		// The writer ends the session: when it returns the connection is closed, and
		// cancelling readCtx makes sure the reader is not left waiting on it.
		defer cancelRead()
		s.writeLoop(readerDone)
	}()
	s.readLoop(readCtx)
	close(readerDone)
	<-writerDone
	s.srv.hub.leave(s)
	s.calls.Leave(s)
	s.conn.CloseNow()
	s.log.Debug("session ended", "user", s.claims.User)
}

// readLoop reads frames until the connection fails or a frame ends the session.
//
// Read limits. A message up to signaling.MaxMessageSize is decoded. A larger one is read
// on and thrown away, up to Config.DrainLimit (1 MiB by default), and answered with a
// "too-large" error: the session lives on, as for any other bad frame. Past DrainLimit
// the gateway stops reading, answers "too-large" and closes with 1009 (message too big):
// a client sending that much is not a softphone. coder/websocket's own limit is set just
// above DrainLimit so that it never closes first and the client always gets the JSON
// error before the close frame. Memory per message is bounded by MaxMessageSize either way.
func (s *Session) readLoop(ctx context.Context) {
	s.conn.SetReadLimit(s.srv.cfg.DrainLimit + 1)
	for {
		typ, r, err := s.conn.Reader(ctx)
		if err != nil {
			s.logEnd(err)
			return
		}
		s.seen()
		// The buffer is held for one message only: 10,000 idle sessions hold none.
		bp := bufPool.Get().(*[]byte)
		goOn := s.readMessage(typ, r, *bp)
		bufPool.Put(bp)
		if !goOn {
			return
		}
	}
}

// readMessage reads and handles one message into buf; it reports whether the session
// goes on.
func (s *Session) readMessage(typ websocket.MessageType, r io.Reader, buf []byte) bool {
	limit := s.srv.cfg.DrainLimit
	n, err := io.ReadFull(r, buf)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		err = nil // the message is shorter than the buffer: the usual case
	case err == nil: // filled: the message is larger than MaxMessageSize
		rest, derr := io.CopyN(io.Discard, r, limit+1-int64(n))
		switch {
		case errors.Is(derr, io.EOF):
			return s.tooLarge(int64(n)+rest, false)
		case derr == nil:
			s.tooLarge(limit+1, true)
			return false
		}
		err = derr
	}
	if err != nil {
		s.logEnd(err)
		return false
	}
	s.seen()
	if s.limit != nil && s.auth.Load() == authOK {
		if ok, abuse := s.limit.take(time.Now()); !ok {
			return s.rateLimited(abuse)
		}
	}
	if typ != websocket.MessageText {
		return s.refuseFrame(&signaling.Error{Code: signaling.CodeMalformed, Message: "binary frames are not accepted: send JSON text frames"})
	}
	return s.handle(buf[:n])
}

// tooLarge answers an oversized message; it reports whether the session goes on.
func (s *Session) tooLarge(size int64, fatal bool) bool {
	e := &signaling.Error{Code: signaling.CodeTooLarge, Message: fmt.Sprintf("message is %d bytes; the limit is %d", size, signaling.MaxMessageSize)}
	if fatal {
		e.Message = fmt.Sprintf("message is over %d bytes; the limit is %d, and the connection is closed", s.srv.cfg.DrainLimit, signaling.MaxMessageSize)
		if s.auth.Load() == authOK {
			s.closeWith(e, websocket.StatusMessageTooBig, "message too big")
			return false
		}
	}
	return s.refuseFrame(e)
}

// rateLimited answers a frame over the session's message limit without reading it;
// it reports whether the session goes on: not when the client keeps it up (abuse).
func (s *Session) rateLimited(abuse bool) bool {
	cfg := &s.srv.cfg
	e := &signaling.Error{Code: signaling.CodeRateLimited, Message: fmt.Sprintf("more than %g messages a second (bursts of %d): this message was not handled", cfg.MessageRate, cfg.MessageBurst)}
	if abuse {
		s.log.Info("session closed for flooding", "user", s.claims.User)
		e.Message = fmt.Sprintf("still more than %g messages a second after being refused: the connection is closed", cfg.MessageRate)
		s.closeWith(e, websocket.StatusPolicyViolation, "rate limited")
		return false
	}
	return s.reply("", e)
}

// refuseFrame answers a frame that could not be taken. Before authentication every
// such frame ends the session: the first frame must be auth.
func (s *Session) refuseFrame(e *signaling.Error) bool {
	if s.auth.Load() != authOK {
		s.unauthorized(e.Ref, "the first message must be auth with a session token")
		return false
	}
	return s.reply(e.Ref, e)
}

// handle acts on one text frame; it reports whether the session goes on.
func (s *Session) handle(frame []byte) bool {
	env, msg, err := signaling.Decode(signaling.FromClient, frame)
	s.srv.cfg.Metrics.FrameIn(env.Type)
	if s.auth.Load() != authOK {
		return s.authenticate(env, msg)
	}
	if err != nil {
		var e *signaling.Error
		if !errors.As(err, &e) {
			e = &signaling.Error{Code: signaling.CodeInternal, Message: err.Error(), Ref: env.ID}
		}
		return s.reply(e.Ref, e)
	}
	switch m := msg.(type) {
	case *signaling.Ping:
		return s.reply(env.ID, &signaling.Pong{Seq: m.Seq})
	case *signaling.Pong:
		return true // seen() already counted it as a sign of life
	case *signaling.Auth:
		return s.reauthenticate(env, m)
	case *signaling.ICE:
		return s.calls.Trickled(s, env.ID, m) // trickle ICE (package phone)
	case *signaling.Request:
		e := s.srv.drainRefusal(m)
		if e == nil {
			e = check(s.srv.hub.phase(), s.calls, m)
		}
		if e != nil {
			e.Ref = env.ID
			return s.reply(env.ID, e)
		}
		s.calls.Act(s, env.ID, m)
		return true
	}
	return s.reply(env.ID, &signaling.Error{Code: signaling.CodeUnknownType, Message: fmt.Sprintf("message type %q is not handled", env.Type), Ref: env.ID})
}

// authenticate takes the first frame: a valid auth, or the end of the session.
func (s *Session) authenticate(env signaling.Envelope, msg signaling.Message) bool {
	a, ok := msg.(*signaling.Auth)
	if !ok {
		s.unauthorized(env.ID, "the first message must be auth with a session token")
		return false
	}
	claims, err := s.srv.cfg.Signer.Verify(a.Token, auth.KindSession)
	if err != nil {
		s.log.Info("auth refused", "err", err, "user", claims.User)
		s.unauthorized(env.ID, "the session token is not valid (expired or not issued by this gateway): sign in again")
		return false
	}
	s.claims = claims
	s.expires.Store(claims.ExpiresAt.UnixNano())
	if !s.auth.CompareAndSwap(authPending, authOK) {
		return false // AuthTimeout won; the writer is closing
	}
	s.log.Debug("session authenticated", "user", claims.User)
	// The welcome goes into the queue before the session joins the hub, so it is
	// written before the first state (outbox.take writes replies first). With a
	// phone, the phone queues it, listing the live calls it then sends.
	w := &signaling.Welcome{User: claims.User, Session: s.id, HeartbeatMillis: int(s.srv.cfg.PingInterval / time.Millisecond), Gateways: s.srv.cfg.Gateways}
	if s.srv.cfg.Phone != nil {
		// Before the hub: from then on the hub asks the phone for the focus call.
		s.calls = s.srv.cfg.Phone.Join(s, env.ID, w)
	} else {
		s.reply(env.ID, w)
	}
	s.srv.hub.join(s)
	return true
}

// reauthenticate lets a client refresh its token mid-session (same user only), answered
// with a new welcome. Anything else is refused and the session goes on as before.
func (s *Session) reauthenticate(env signaling.Envelope, a *signaling.Auth) bool {
	claims, err := s.srv.cfg.Signer.Verify(a.Token, auth.KindSession)
	if err != nil || claims.User != s.claims.User {
		return s.reply(env.ID, &signaling.Error{Code: signaling.CodeUnauthorized, Message: "the token is not valid for this session's user; the session continues as " + s.claims.User, Ref: env.ID})
	}
	s.claims = claims
	s.expires.Store(claims.ExpiresAt.UnixNano())
	w := &signaling.Welcome{User: claims.User, Session: s.id, HeartbeatMillis: int(s.srv.cfg.PingInterval / time.Millisecond), Gateways: s.srv.cfg.Gateways}
	w.Calls = s.calls.LiveIDs()
	return s.reply(env.ID, w)
}

func (s *Session) unauthorized(ref, msg string) {
	s.auth.CompareAndSwap(authPending, authExpired)
	s.closeWith(&signaling.Error{Code: signaling.CodeUnauthorized, Message: msg, Ref: ref}, websocket.StatusPolicyViolation, "unauthorized")
}

// Reply queues m for the tab, with id (a request's, or ""), waiting while the reply
// queue is full (until the writer drains it or the watchdog cuts the tab); it reports
// false when the session is over.
func (s *Session) Reply(id string, m signaling.Message) bool { return s.reply(id, m) }

// Offer queues an encoded frame without waiting: false when the reply queue is full.
// A session that has ended counts as served (true).
func (s *Session) Offer(frame []byte) bool { return !s.out.offer(frame) }

// QueueState queues the current state, computed for focus, as a reply: the phone's
// greeting puts it before the calls it lists (see Phone.Join).
func (s *Session) QueueState(focus signaling.CallState) { s.srv.hub.greet(s, focus) }

// Refocus pushes the state again for the session's focus call, which changed.
func (s *Session) Refocus() { s.srv.hub.refocus(s) }

// reply queues m; it reports false when the session is over.
func (s *Session) reply(id string, m signaling.Message) bool {
	if e, ok := m.(*signaling.Error); ok {
		s.srv.cfg.Metrics.Refused(e.Code)
	}
	frame, err := signaling.Encode(id, m)
	if err != nil {
		s.log.Error("encode reply", "err", err)
		return true
	}
	return s.out.reply(frame)
}

func (s *Session) closeWith(e *signaling.Error, code websocket.StatusCode, reason string) {
	s.reply(e.Ref, e)
	s.out.close(closeRequest{code: int(code), reason: reason})
}

func (s *Session) logEnd(err error) {
	if st := websocket.CloseStatus(err); st == websocket.StatusNormalClosure || st == websocket.StatusGoingAway {
		return
	}
	s.log.Debug("read ended", "err", err)
}
