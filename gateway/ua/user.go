package ua

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/signaling"
)

// User is one signed-in user's SIP user agent: its registration, its calls, its
// incoming calls and its events. Everything it does goes out of the Manager's one
// listener with the user's own Contact.
type User struct {
	m       *Manager
	name    string
	secret  Secret
	contact sip.ContactHeader
	dua     *sipgo.DialogUA // dialogs started over UDP (and every in-dialog request)
	tlsDua  *sipgo.DialogUA // INVITEs to a pool over TLS (Pool.Transport)

	ctx    context.Context // ends at sign-out
	cancel context.CancelFunc
	wg     sync.WaitGroup // registration refresher, queues, calls

	reg registration

	events   *queue[Event]
	incoming *queue[*Incoming]
	messages chan parkMessage // MESSAGE "Parked at …" from a park service

	// mu guards calls.
	mu    sync.Mutex
	calls map[string]*Call // by Call.ID
}

// Event is one change of one call, as the softphone shows it.
type Event struct {
	User  string
	Call  *Call
	State signaling.CallState
	// Reason says why a call ended ("hung up", "busy", "the park pool failed"…) or,
	// for other states, what happened ("held by the other party", "transferred").
	Reason string
	// Orbit is set when this user's call was parked at an orbit (state ended,
	// reason "parked").
	Orbit string
	// Incoming is set on the ringing event of a call that comes in: the same value
	// Incoming() delivers, here so that whoever shows the event can answer or decline
	// the call the moment it shows it. Incoming() is a queue of its own, so a consumer
	// that read both could see the ringing before it had the call to answer.
	Incoming *Incoming
}

// parkMessage is what a park service's MESSAGE told this user (park/doc.go).
type parkMessage struct {
	orbit string
	text  string
}

// SignIn starts a user agent for name and registers it at the active pool. It returns
// once the pool accepted the registration; the user is then kept registered until
// SignOut. Signing in a user who is already signed in returns the existing one.
func (m *Manager) SignIn(ctx context.Context, name string) (*User, error) {
	secret, ok := m.secret(name)
	if !ok {
		return nil, fmt.Errorf("ua: sign in %s: no credentials", name)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errors.New("ua: manager closed")
	}
	if u := m.users[name]; u != nil {
		m.mu.Unlock()
		return u, nil
	}
	u := &User{
		m:        m,
		name:     name,
		secret:   secret,
		contact:  sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: name, Host: m.host, Port: m.port}},
		events:   newQueue[Event](),
		incoming: newQueue[*Incoming](),
		messages: make(chan parkMessage, 8),
		calls:    map[string]*Call{},
	}
	u.dua = &sipgo.DialogUA{Client: m.cli, ContactHDR: u.contact}
	u.tlsDua = &sipgo.DialogUA{Client: m.tlsCli, ContactHDR: u.contact}
	u.ctx, u.cancel = context.WithCancel(m.ctx)
	u.reg.rearm = make(chan struct{}, 1)
	m.users[name] = u
	m.wg.Add(1)
	m.mu.Unlock()

	u.wg.Add(2)
	go func() {
		defer u.wg.Done()
		u.events.run(u.ctx.Done())
	}()
	go func() {
		defer u.wg.Done()
		u.incoming.run(u.ctx.Done())
	}()
	go func() {
		defer m.wg.Done()
		<-u.ctx.Done()
		u.wg.Wait()
	}()

	// A Redirect may change the active pool while we register: register again until
	// the pool we are bound at is the active one.
	for {
		pool := m.Active()
		if err := u.register(ctx, pool, m.cfg.Expires); err != nil {
			u.remove()
			return nil, fmt.Errorf("ua: sign in %s: %w", name, err)
		}
		if m.Active().Name == pool.Name {
			break
		}
	}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		u.keepRegistered()
	}()
	return u, nil
}

// remove forgets the user and stops its goroutines.
func (u *User) remove() {
	u.m.mu.Lock()
	if u.m.users[u.name] == u {
		delete(u.m.users, u.name)
	}
	u.m.mu.Unlock()
	u.cancel()
}

// SignOut ends the user's calls, removes its registration (REGISTER Expires: 0,
// RFC 3261 §10.2.2) and stops its user agent. Its Events and Incoming channels close.
func (u *User) SignOut(ctx context.Context) error {
	if u.ctx.Err() != nil {
		return nil
	}
	for _, c := range u.Calls() {
		c.End(ctx, "signed out")
	}
	err := u.unregister(ctx)
	u.remove()
	u.wg.Wait()
	return err
}

// Name is the user's name (the user part of its address of record).
func (u *User) Name() string { return u.name }

// Contact is where the user is reachable: sip:name@gatewayIP:port.
func (u *User) Contact() string { return u.contact.Address.String() }

// AOR is the user's address of record at the pool it is registered with.
func (u *User) AOR() sip.Uri { return u.aor(u.Pool()) }

func (u *User) aor(p Pool) sip.Uri { return sip.Uri{Scheme: "sip", User: u.name, Host: p.domain()} }

// Events delivers this user's call events in order. It closes at sign-out.
func (u *User) Events() <-chan Event { return u.events.out }

// Incoming delivers calls to this user; each rings until Answer or Decline. It closes
// at sign-out.
func (u *User) Incoming() <-chan *Incoming { return u.incoming.out }

// Calls returns a snapshot of the user's calls that have not ended.
func (u *User) Calls() []*Call {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]*Call, 0, len(u.calls))
	for _, c := range u.calls {
		out = append(out, c)
	}
	return out
}

// Call returns the user's call with the given ID, or nil.
func (u *User) Call(id string) *Call {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls[id]
}

func (u *User) publish(e Event) {
	e.User = u.name
	u.events.push(e)
	if e.Call != nil {
		e.Call.saveDialog(e.State == signaling.CallEnded) // a cluster's record of it (adopt.go)
	}
}

// newRequest builds an out-of-dialog request from this user to target, sent to the
// pool's proxy (RFC 3261 §8.1.1).
func (u *User) newRequest(method sip.RequestMethod, target sip.Uri, pool Pool) *sip.Request {
	req := sip.NewRequest(method, target)
	from := sip.FromHeader{Address: u.aor(pool), Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(&from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: target.Scheme, User: target.User, Host: target.Host, Port: target.Port}})
	ct := u.contact
	req.AppendHeader(&ct)
	// The pool is our outbound proxy: a loose Route naming it (RFC 3261 §8.1.2) sends
	// the request there whatever the Request-URI, and CANCEL copies it (§9.1). A pool
	// over TLS is named sip:…;transport=tls rather than sips: — sips would promise TLS
	// on every hop to the callee (§19.1), and the pool reaches phones over UDP.
	if pool.tls() {
		req.AppendHeader(sip.NewHeader("Route", "<sip:"+pool.Addr+";transport=tls;lr>"))
	} else {
		req.AppendHeader(sip.NewHeader("Route", "<sip:"+pool.Addr+";lr>"))
	}
	req.SetTransport(pool.transport())
	return req
}

// duaFor is the dialog user agent an INVITE leaves through: over TLS when it goes to
// a pool over TLS (its transport says so), else from our UDP listener.
func (u *User) duaFor(req *sip.Request) *sipgo.DialogUA {
	if req.Transport() == "TLS" {
		return u.tlsDua
	}
	return u.dua
}

// laddr is the listening socket, for requests that must leave from it.
func (m *Manager) laddr() sip.Addr {
	return sip.Addr{IP: net.ParseIP(m.host), Port: m.port, Hostname: m.host}
}
