package main

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"syscall/js"
	"time"

	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/wasm/softphone"
)

// connStatus is where the link to the gateway stands; the page shows it as
// data-connection on the connection indicator.
type connStatus string

const (
	connConnecting   connStatus = "connecting"   // first attempt since the page loaded
	connConnected    connStatus = "connected"    // authenticated: the gateway said welcome
	connReconnecting connStatus = "reconnecting" // lost it; waiting or trying again
	connSignedOut    connStatus = "signed-out"   // no usable identity: the user must sign in
)

// Timings of one connection. The gateway's welcome overrides the heartbeat interval.
const (
	dialTimeout      = 10 * time.Second
	signInTimeout    = 10 * time.Second
	welcomeTimeout   = 10 * time.Second // from open to welcome
	defaultHeartbeat = 5 * time.Second
	// silentBeats is how many heartbeat intervals of silence mean the link is dead.
	// The gateway pings every interval and answers ours, so a healthy link is never
	// quiet for long; three misses rule out a slow frame or a busy tab.
	silentBeats = 3
)

// Events the client reports to the loop that owns the view.
type (
	connEvent struct {
		status  connStatus
		attempt int    // reconnect attempt about to be made (reconnecting only)
		detail  string // why, when something went wrong
	}
	// welcomeEvent says which gateway (its websocket URL) welcomed the tab.
	welcomeEvent struct {
		welcome *signaling.Welcome
		gateway string
	}
	stateEvent  struct{ state *signaling.State }
	errorEvent  struct{ err *signaling.Error }
	parkedEvent struct{ parked *signaling.Parked }
	iceEvent    struct{ ice *signaling.ICE }
	// callEvent is a change of one of the user's calls; ref is the id of the request
	// it answers, if any (then it may carry the gateway's SDP answer for our offer).
	callEvent struct {
		call *signaling.Call
		ref  string
	}
)

var (
	errUnauthorized   = errors.New("the gateway refused the session token")
	errHeartbeatLost  = errors.New("heard nothing from the gateway")
	errNoWelcome      = errors.New("the gateway did not answer the sign-in")
	errNotConnected   = errors.New("not connected to the gateway")
	errNeedIdentity   = errors.New("no user to sign in as")
	errGatewayClosing = errors.New("the gateway closed the connection")
	// errEarlyRefused: the gateway refused the auth on boot.js's early socket. That may be
	// its auth timeout, which ran while the page started, rather than the token: the
	// attempt is made again at once on a socket of its own, where a refusal counts.
	errEarlyRefused = errors.New("the gateway refused the sign-in on the early websocket")
)

// client holds one websocket to the gateway at a time and replaces it when it fails.
// run is its only long-lived goroutine; send may be called from any goroutine.
type client struct {
	events chan<- any
	// wake cuts a reconnect delay short (the browser came back online).
	wake chan struct{}
	// signIns carries a name typed into the sign-in form.
	signIns chan string

	// gw is where to connect: the page's gateway, then the cluster's list (issue #11).
	// Only run's goroutine uses it.
	gw softphone.Gateways
	// early: the first attempt may take the websocket boot.js opened (early_js.go).
	// Only run's goroutine uses it.
	early bool
	// earlySignIn: the first session may take the sign-in boot.js started
	// (takeEarlySignIn). Only run's goroutine uses it.
	earlySignIn bool

	mu     sync.Mutex
	ws     *socket // set while authenticated; nil otherwise
	nextID uint64
	user   string // the demo name to sign in as; "" until known
}

func newClient(events chan<- any, user string) *client {
	return &client{
		events:  events,
		wake:    make(chan struct{}, 1),
		signIns: make(chan string, 1),
		user:    user,
		gw:      softphone.NewGateways(wsURL()),
		early:   true,

		earlySignIn: true,
	}
}

func (c *client) emit(ev any) { c.events <- ev }

// poke wakes a pending reconnect delay. It never blocks, so a js.Func may call it.
func (c *client) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// signInAs is the sign-in form's answer. It never blocks, so a js.Func may call it.
func (c *client) signInAs(user string) {
	select {
	case c.signIns <- user:
	default:
	}
}

// run connects, and reconnects with backoff, until ctx ends.
func (c *client) run(ctx context.Context) {
	failures := 0 // consecutive attempts that did not reach welcome
	for ctx.Err() == nil {
		if failures == 0 {
			c.emit(connEvent{status: connConnecting})
		} else {
			c.emit(connEvent{status: connReconnecting, attempt: failures})
		}
		sess, err := c.session(ctx)
		var refused *signInError
		switch {
		case errors.As(err, &refused) || errors.Is(err, errNeedIdentity):
			c.dropEarly()
			detail := "Sign in to use the softphone"
			if refused != nil {
				detail = refused.Message
			}
			c.emit(connEvent{status: connSignedOut, detail: detail})
			select {
			case user := <-c.signIns:
				c.mu.Lock()
				c.user = user
				c.mu.Unlock()
				failures = 0
			case <-ctx.Done():
			}
			continue
		case err != nil:
			failures++
			c.wait(ctx, failures, err)
			continue
		}
		mark("parkway-session")
		welcomed, err := c.serve(ctx, sess)
		if errors.Is(err, errEarlyRefused) {
			continue // again at once, on a socket of its own (c.early is spent)
		}
		if errors.Is(err, errUnauthorized) {
			// Expired or revoked: sign in again with the same name on the next attempt.
			forgetSession()
		}
		if welcomed {
			failures = 0
		} else if !errors.Is(err, errUnauthorized) {
			// This gateway could not be reached or did not welcome us: try the next of
			// the cluster's (a link that dropped after its welcome is tried again on
			// the same gateway first: it holds this tab's calls).
			c.gw.Failed()
		}
		failures++
		c.wait(ctx, failures, err)
	}
}

// wait shows that attempt n is coming and sleeps for its backoff, or less if woken.
func (c *client) wait(ctx context.Context, n int, cause error) {
	if ctx.Err() != nil {
		return
	}
	detail := ""
	if cause != nil {
		detail = cause.Error()
	}
	c.emit(connEvent{status: connReconnecting, attempt: n, detail: detail})
	t := time.NewTimer(softphone.Backoff(n, softphone.Jitter))
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.wake:
	case <-ctx.Done():
	}
}

// session returns a token to present: the tab's stored one when it is still good and
// belongs to the requested user, else a fresh one from the gateway.
func (c *client) session(ctx context.Context) (softphone.Session, error) {
	c.mu.Lock()
	user := c.user
	c.mu.Unlock()
	started := js.Undefined()
	if c.earlySignIn {
		c.earlySignIn = false
		started = takeEarlySignIn(user)
	}
	if s, ok := loadSession(); ok && s.Usable(time.Now()) && (user == "" || user == s.User) {
		return s, nil
	}
	if user == "" {
		return softphone.Session{}, errNeedIdentity
	}
	sctx, cancel := context.WithTimeout(ctx, signInTimeout)
	defer cancel()
	mark("parkway-signin")
	s, err := signIn(sctx, user, started)
	if err != nil {
		return softphone.Session{}, err
	}
	saveSession(s)
	return s, nil
}

// wsURL is the gateway's websocket on the page's own origin: ws:// next to http://,
// wss:// next to https://.
func wsURL() string {
	loc := global.Get("location")
	scheme := "ws:"
	if loc.Get("protocol").String() == "https:" {
		scheme = "wss:"
	}
	return scheme + "//" + loc.Get("host").String() + "/ws"
}

// dropEarly closes boot.js's early websocket if it is still there: this attempt has
// nobody to sign in as.
func (c *client) dropEarly() {
	if c.early {
		c.early = false
		closeEarlySocket()
	}
}

// dial opens the websocket of one attempt: on the first, the one boot.js opened early
// if it is still of use (early reports that), else a new one.
func (c *client) dial(ctx context.Context, url string) (ws *socket, early bool, err error) {
	if c.early {
		c.early = false
		if pre, ok := takeEarlySocket(url); ok {
			if ws, err := openSocket(ctx, pre); err == nil {
				return ws, true, nil
			}
			// Its handshake failed: a socket of our own says whether the gateway is there.
		}
	}
	ws, err = dialSocket(ctx, url)
	return ws, false, err
}

// serve runs one websocket from dial to failure. welcomed reports whether the gateway
// accepted the session, which resets the backoff.
func (c *client) serve(ctx context.Context, sess softphone.Session) (welcomed bool, err error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	url := c.gw.URL()
	ws, early, err := c.dial(dctx, url)
	cancel()
	if err != nil {
		return false, wrap("could not reach the gateway", err)
	}
	mark("parkway-ws-open")
	if early {
		defer func() {
			if !welcomed && errors.Is(err, errUnauthorized) {
				err = errEarlyRefused
			}
		}()
	}

	quit := make(chan struct{})
	defer func() {
		close(quit)
		c.mu.Lock()
		if c.ws == ws {
			c.ws = nil
		}
		c.mu.Unlock()
		// Close does not wait for the close handshake, which on a dead network takes
		// as long as the browser's own timeout: the reconnect goes ahead at once.
		ws.Close(closeNormal, "reconnecting")
	}()

	// The reader ends when the socket closes, or when quit says serve has returned.
	frames := make(chan []byte, 16)
	readErr := make(chan error, 1)
	rctx, stopReading := context.WithCancel(context.Background())
	defer stopReading()
	go func() {
		for {
			b, err := ws.Read(rctx)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case frames <- b:
			case <-quit:
				return
			}
		}
	}()

	if err := c.write(ws, "", &signaling.Auth{Token: sess.Token}); err != nil {
		return false, err
	}

	interval := defaultHeartbeat
	heard := time.Now()
	pinged := time.Now()
	var seq uint64
	check := time.NewTicker(250 * time.Millisecond)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return welcomed, ctx.Err()
		case err := <-readErr:
			if !welcomed && refusedByClose(err) {
				return false, errUnauthorized
			}
			if welcomed {
				return true, errGatewayClosing
			}
			return false, wrap("the connection closed before sign-in completed", err)
		case <-check.C:
			if len(frames) > 0 {
				// Frames are waiting: the page was busy, not the gateway silent. Read
				// them before judging the link.
				continue
			}
			now := time.Now()
			if !welcomed && now.Sub(heard) > welcomeTimeout {
				return false, errNoWelcome
			}
			if welcomed && now.Sub(heard) > silentBeats*interval {
				return true, errHeartbeatLost
			}
			if welcomed && now.Sub(pinged) >= interval {
				seq++
				pinged = now
				if err := c.write(ws, "", &signaling.Ping{Seq: seq}); err != nil {
					return true, err
				}
			}
		case b := <-frames:
			heard = time.Now()
			env, msg, err := signaling.Decode(signaling.FromGateway, b)
			if err != nil {
				// A frame from a newer gateway, or a bug: say so and carry on rather
				// than drop a working link.
				global.Get("console").Call("warn", "parkway: unreadable frame from the gateway:", err.Error())
				continue
			}
			switch m := msg.(type) {
			case *signaling.Ping:
				if err := c.write(ws, "", &signaling.Pong{Seq: m.Seq}); err != nil {
					return welcomed, err
				}
			case *signaling.Pong:
				// Hearing it is the point; heard is already updated.
			case *signaling.Welcome:
				welcomed = true
				mark("parkway-welcome")
				if m.HeartbeatMillis > 0 {
					interval = time.Duration(m.HeartbeatMillis) * time.Millisecond
				}
				pinged = time.Now()
				c.mu.Lock()
				c.ws = ws
				c.mu.Unlock()
				c.gw.Learn(m.Gateways)
				c.emit(welcomeEvent{welcome: m, gateway: url})
				c.emit(connEvent{status: connConnected})
			case *signaling.State:
				c.emit(stateEvent{state: m})
			case *signaling.Call:
				c.emit(callEvent{call: m, ref: env.ID})
			case *signaling.Parked:
				c.emit(parkedEvent{parked: m})
			case *signaling.ICE:
				c.emit(iceEvent{ice: m})
			case *signaling.Reauth:
				c.renewSession(ws, m) // reauth_js.go
			case *signaling.Error:
				if m.Code == signaling.CodeUnauthorized {
					return welcomed, errUnauthorized
				}
				c.emit(errorEvent{err: m})
			}
		}
	}
}

// refusedByClose reports whether a close before welcome looks like the gateway refusing
// the token (policy violation or an application 4xxx code) rather than a network fault.
func refusedByClose(err error) bool {
	code := closeCode(err)
	return code == closePolicyViolation || (code >= 4000 && code < 5000)
}

func (c *client) write(ws *socket, id string, m signaling.Message) error {
	b, err := signaling.Encode(id, m)
	if err != nil {
		return err
	}
	// The browser's send never blocks.
	if err := ws.Write(b); err != nil {
		return wrap("send "+string(m.Type()), err)
	}
	return nil
}

// send sends a request on the current connection and returns its id, which the
// gateway echoes as ref in an error that refuses it.
func (c *client) send(req *signaling.Request) (string, error) { return c.sendMessage(req) }

// sendMessage sends any client message with a fresh id.
func (c *client) sendMessage(m signaling.Message) (string, error) {
	c.mu.Lock()
	ws := c.ws
	c.nextID++
	id := strconv.FormatUint(c.nextID, 10)
	c.mu.Unlock()
	if ws == nil {
		return "", errNotConnected
	}
	return id, c.write(ws, id, m)
}
