package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/signaling"
)

// Options configure Connect; nil means the defaults.
type Options struct {
	// Token is a session token for the user. Empty means demo sign-in: POST
	// /api/session with the user's name, which a gateway offers only in demo mode.
	Token string
	// Hz is the tone this tab's microphone plays on every call; default 440.
	Hz float64
	// HTTP is the client for sign-in and the websocket handshake; nil means
	// http.DefaultClient.
	HTTP *http.Client
}

// Phone is one softphone tab signed in at a gateway: the websocket, what the gateway
// pushed last (pool state, each call's state) and a PeerConnection per call this tab
// carries audio for.
//
// One goroutine reads the websocket (answering the gateway's pings, as the softphone
// does); Close ends it and every call's audio and waits for them.
type Phone struct {
	user string
	hz   float64
	conn *websocket.Conn
	api  *webrtc.API

	cancel context.CancelFunc
	done   chan struct{} // closed when the reader has returned

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever anything below changes
	state   *signaling.State
	calls   map[string]*Call
	replies map[string]*Call            // the call each request id was answered with
	errs    map[string]*signaling.Error // refusals by request id
	pushed  []*signaling.Error          // errors that answer no request
	ended   error                       // why the websocket ended
	seq     int
	parked  []*signaling.Parked // every parked-calls list pushed, oldest first
}

// Connect signs user in at the gateway (http://host:port), opens the websocket,
// authenticates and waits for the welcome and the first pool state.
func Connect(ctx context.Context, gatewayURL, user string, opts *Options) (*Phone, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Hz == 0 {
		o.Hz = 440
	}
	if o.HTTP == nil {
		o.HTTP = http.DefaultClient
	}
	gatewayURL = strings.TrimSuffix(gatewayURL, "/")
	if o.Token == "" {
		tok, err := signIn(ctx, o.HTTP, gatewayURL, user)
		if err != nil {
			return nil, err
		}
		o.Token = tok
	}
	api, err := NewAPI(G711...)
	if err != nil {
		return nil, err
	}
	wsURL := "ws" + strings.TrimPrefix(gatewayURL, "http") + "/ws"
	conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: o.HTTP})
	if err != nil {
		return nil, fmt.Errorf("browsertest: %s: %w", wsURL, err)
	}
	conn.SetReadLimit(1 << 20)
	p := &Phone{user: user, hz: o.Hz, conn: conn, api: api, done: make(chan struct{}), changed: make(chan struct{}),
		calls: map[string]*Call{}, replies: map[string]*Call{}, errs: map[string]*signaling.Error{}}
	if err := p.send(ctx, "auth", &signaling.Auth{Token: o.Token}); err != nil {
		conn.CloseNow()
		return nil, err
	}
	_, frame, err := conn.Read(ctx)
	if err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("browsertest: %s: waiting for the welcome: %w", user, err)
	}
	if _, m, err := signaling.Decode(signaling.FromGateway, frame); err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("browsertest: %s: %w", user, err)
	} else if _, ok := m.(*signaling.Welcome); !ok {
		conn.CloseNow()
		return nil, fmt.Errorf("browsertest: %s: the gateway answered auth with %s", user, frame)
	}
	rctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() {
		defer close(p.done)
		p.read(rctx)
	}()
	if err := p.wait(ctx, func() bool { return p.state != nil }); err != nil {
		p.Close()
		return nil, fmt.Errorf("browsertest: %s: waiting for the first state: %w", user, err)
	}
	return p, nil
}

// signIn is the demo's POST /api/session.
func signIn(ctx context.Context, c *http.Client, base, user string) (string, error) {
	body, _ := json.Marshal(map[string]string{"user": user})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/session", strings.NewReader(string(body)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("browsertest: sign in %s: %w", user, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("browsertest: sign in %s: %s: %s", user, resp.Status, b)
	}
	var si struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &si); err != nil || si.Token == "" {
		return "", fmt.Errorf("browsertest: sign in %s: no token in %s", user, b)
	}
	return si.Token, nil
}

// User is the name this tab signed in as.
func (p *Phone) User() string { return p.user }

// State is the pool state the gateway pushed last.
func (p *Phone) State() signaling.State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return *p.state
}

// Phase is the phase the gateway pushed last.
func (p *Phone) Phase() signaling.Phase { return p.State().Phase }

// WaitPushed waits until the latest pushed state satisfies ok, and returns it. The
// gateway keeps only the newest state for a tab that has not read the previous one
// yet, so a phase that lasts a few milliseconds may never reach the tab: wait for
// where things end up, not for each step on the way.
func (p *Phone) WaitPushed(ctx context.Context, ok func(signaling.State) bool) (signaling.State, error) {
	var last signaling.State
	err := p.wait(ctx, func() bool {
		last = *p.state
		return ok(last)
	})
	return last, err
}

// WaitPhase waits until the gateway has pushed phase.
func (p *Phone) WaitPhase(ctx context.Context, phase signaling.Phase) error {
	last, err := p.WaitPushed(ctx, func(s signaling.State) bool { return s.Phase == phase })
	if err != nil {
		return fmt.Errorf("browsertest: %s waiting for phase %s (last %s): %w", p.user, phase, last.Phase, err)
	}
	return nil
}

// WaitCapability waits until the pushed capabilities say allowed for a, and returns
// that verdict (with its reason when refused).
func (p *Phone) WaitCapability(ctx context.Context, a signaling.Action, allowed bool) (signaling.Verdict, error) {
	last, err := p.WaitPushed(ctx, func(s signaling.State) bool { return s.Capabilities[a].Allowed == allowed })
	v := last.Capabilities[a]
	if err != nil {
		return v, fmt.Errorf("browsertest: %s waiting for %s allowed=%v (last %+v): %w", p.user, a, allowed, v, err)
	}
	return v, nil
}

// readyTarget is whom WaitReady pretends to call.
const readyTarget = "browsertest-ready"

// WaitReady waits until the gateway can place this user's calls: it has registered the
// user with the pool and follows the user's SIP agent. The protocol has no message for
// that, so it asks for a call without an offer until the gateway stops answering
// "calls are unavailable until the gateway has registered you" and asks for the offer
// instead; nothing is dialled either way.
func (p *Phone) WaitReady(ctx context.Context) error {
	for {
		err := p.request(ctx, &signaling.Request{Action: signaling.ActionCall, Target: readyTarget}, func() bool { return false })
		var se *signaling.Error
		if !errors.As(err, &se) {
			return fmt.Errorf("browsertest: %s waiting to be registered: %w", p.user, err)
		}
		if se.Code == signaling.CodeBadField && se.Field == "sdp" {
			return nil
		}
		if se.Code != signaling.CodeUnavailable {
			return fmt.Errorf("browsertest: %s waiting to be registered: %w", p.user, se)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("browsertest: %s waiting to be registered (last: %v): %w", p.user, se, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Call places a call to target (a user or a number) with this tab's audio and returns
// once the media is connected; the call is then dialing or already active.
func (p *Phone) Call(ctx context.Context, target string) (*Call, error) {
	return p.dial(ctx, &signaling.Request{Action: signaling.ActionCall, Target: target})
}

// Retrieve dials orbit to pick up the call parked there.
func (p *Phone) Retrieve(ctx context.Context, orbit string) (*Call, error) {
	return p.dial(ctx, &signaling.Request{Action: signaling.ActionRetrieve, Orbit: orbit})
}

// dial sends a request that starts a call with an offer, and connects the answer.
func (p *Phone) dial(ctx context.Context, req *signaling.Request) (*Call, error) {
	a, err := NewAudio(p.api, PCMU)
	if err != nil {
		return nil, err
	}
	if req.SDP, err = a.Offer(ctx); err != nil {
		a.Close()
		return nil, err
	}
	c, err := p.offered(ctx, req)
	if err != nil {
		a.Close()
		return nil, err
	}
	return c, c.connect(ctx, a)
}

// offered sends a request carrying an offer and waits for the call message that
// answers it.
func (p *Phone) offered(ctx context.Context, req *signaling.Request) (*Call, error) {
	var id string
	err := p.request(ctx, req, func() bool { return false }, func(rid string) bool {
		id = rid
		return p.replies[rid] != nil
	})
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.replies[id], nil
}

// WaitIncoming waits for a call that rings this tab and that no earlier WaitIncoming
// returned.
func (p *Phone) WaitIncoming(ctx context.Context) (*Call, error) {
	var got *Call
	err := p.wait(ctx, func() bool {
		for _, c := range p.calls {
			if !c.taken && c.last.Direction == signaling.CallIncoming && c.last.State == signaling.CallRinging {
				got = c
				c.taken = true
				return true
			}
		}
		return false
	})
	if err != nil {
		return nil, fmt.Errorf("browsertest: %s waiting for a call to ring: %w", p.user, err)
	}
	return got, nil
}

// Errors are the errors the gateway pushed that answer no request (such as "the
// gateway could not register you").
func (p *Phone) Errors() []signaling.Error {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]signaling.Error, len(p.pushed))
	for i, e := range p.pushed {
		out[i] = *e
	}
	return out
}

// Close closes the websocket as a closing tab does, and every call's audio.
func (p *Phone) Close() {
	_ = p.conn.Close(websocket.StatusNormalClosure, "tab closed")
	p.cancel()
	<-p.done
	p.mu.Lock()
	calls := make([]*Call, 0, len(p.calls))
	for _, c := range p.calls {
		calls = append(calls, c)
	}
	p.mu.Unlock()
	for _, c := range calls {
		if c.audio != nil {
			c.audio.Close()
		}
	}
}

// request sends req with a fresh id and waits until the gateway refuses it (the
// *signaling.Error is returned) or until done, checked under the phone's lock, holds.
// byID, when given, is also a done condition that knows the request id.
func (p *Phone) request(ctx context.Context, req *signaling.Request, done func() bool, byID ...func(id string) bool) error {
	p.mu.Lock()
	p.seq++
	id := fmt.Sprintf("%s-%d", req.Action, p.seq)
	p.mu.Unlock()
	if err := p.send(ctx, id, req); err != nil {
		return err
	}
	var refused *signaling.Error
	err := p.wait(ctx, func() bool {
		if e := p.errs[id]; e != nil {
			refused = e
			return true
		}
		for _, f := range byID {
			if f(id) {
				return true
			}
		}
		return done()
	})
	if refused != nil {
		return refused
	}
	if err != nil {
		return fmt.Errorf("browsertest: %s %s: %w", p.user, req.Action, err)
	}
	return nil
}

func (p *Phone) send(ctx context.Context, id string, m signaling.Message) error {
	frame, err := signaling.Encode(id, m)
	if err != nil {
		return err
	}
	if err := p.conn.Write(ctx, websocket.MessageText, frame); err != nil {
		return fmt.Errorf("browsertest: %s: send %s: %w", p.user, m.Type(), err)
	}
	return nil
}

// wait blocks until cond, called with p.mu held, is true; or the websocket ends; or
// ctx does.
func (p *Phone) wait(ctx context.Context, cond func() bool) error {
	for {
		p.mu.Lock()
		if cond() {
			p.mu.Unlock()
			return nil
		}
		if p.ended != nil {
			err := p.ended
			p.mu.Unlock()
			return err
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// read takes every frame the gateway sends until the websocket ends.
func (p *Phone) read(ctx context.Context) {
	var err error
	for {
		var frame []byte
		_, frame, err = p.conn.Read(ctx)
		if err != nil {
			break
		}
		env, m, derr := signaling.Decode(signaling.FromGateway, frame)
		if derr != nil {
			err = fmt.Errorf("the gateway sent a frame its own contract refuses: %w: %s", derr, frame)
			break
		}
		if ping, ok := m.(*signaling.Ping); ok {
			_ = p.send(ctx, "", &signaling.Pong{Seq: ping.Seq})
			continue
		}
		p.mu.Lock()
		p.take(env, m)
		p.broadcastLocked()
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.ended = fmt.Errorf("browsertest: %s: the websocket ended: %w", p.user, err)
	p.broadcastLocked()
	p.mu.Unlock()
}

// take records one message; p.mu is held.
func (p *Phone) take(env signaling.Envelope, m signaling.Message) {
	switch m := m.(type) {
	case *signaling.State:
		p.state = m
	case *signaling.Call:
		c := p.calls[m.ID]
		if c == nil {
			c = &Call{p: p, ID: m.ID}
			p.calls[m.ID] = c
		}
		sdp := m.SDP
		m.SDP = ""
		c.last = *m
		c.history = append(c.history, m.State)
		if env.ID != "" {
			c.answer = sdp
			p.replies[env.ID] = c
		}
	case *signaling.Parked:
		p.parked = append(p.parked, m)
	case *signaling.Error:
		if m.Ref != "" {
			p.errs[m.Ref] = m
		} else {
			p.pushed = append(p.pushed, m)
		}
	}
}

func (p *Phone) broadcastLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}
