package siptest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// PhoneOptions configures a Phone. Zero values mean defaults.
type PhoneOptions struct {
	User     string // user part of the address of record; required
	Password string // digest password answered to 401/407 challenges
	// Domain is the host part of the address of record. Empty means the
	// phone's own listener address, which makes the AOR directly routable.
	Domain string
	// Proxy is the host:port that receives every out-of-dialog request
	// (REGISTER, INVITE, SUBSCRIBE, MESSAGE): a registrar/proxy or, in tests
	// without a pool, the server under test. Empty means the Request-URI's host.
	Proxy string
	// ToneHz is the frequency this phone sends on every call; 0 sends silence
	// (packets still flow, so they can be counted).
	ToneHz float64
	// Transport is "udp" (default) or "tcp": how this phone sends its
	// requests and what its Contact asks peers to use. A TCP phone listens
	// on both, on the same port.
	Transport string
	// NoReplaces makes a phone without RFC 3891 support: its INVITEs carry
	// no "Supported: replaces" and it refuses INVITEs with Replaces (420).
	NoReplaces bool
	// NoRefer makes a phone that does not do transfers: its INVITEs'
	// Allow omits REFER and it answers REFER with 405.
	NoRefer bool
	// Logger receives sipgo's logs; nil discards them.
	Logger *slog.Logger
}

// Phone is a SIP user agent bound to a UDP port on 127.0.0.1.
type Phone struct {
	t      testing.TB
	opt    PhoneOptions
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	cli    *sipgo.Client
	dua    *sipgo.DialogUA
	conn   net.PacketConn
	tcp    net.Listener // nil for UDP phones
	laddr  sip.Addr
	aor    sip.Uri
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	incoming chan *Call
	messages chan *sip.Request

	mu    sync.Mutex
	calls map[string]*Call // by Call-ID
	subs  map[string]*Subscription
}

// NewPhone starts a phone listening on 127.0.0.1:0 (UDP). It is closed by
// t.Cleanup: its calls' media stop and its sockets close, without BYEs.
func NewPhone(t testing.TB, opt PhoneOptions) *Phone {
	t.Helper()
	p, err := newPhone(opt)
	if err != nil {
		t.Fatalf("siptest: new phone %q: %v", opt.User, err)
	}
	p.t = t
	t.Cleanup(p.close)
	return p
}

func newPhone(opt PhoneOptions) (*Phone, error) {
	if opt.User == "" {
		return nil, errors.New("PhoneOptions.User is empty")
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	tcp := strings.EqualFold(opt.Transport, "tcp")
	if opt.Transport != "" && !tcp && !strings.EqualFold(opt.Transport, "udp") {
		return nil, fmt.Errorf("PhoneOptions.Transport %q: want udp or tcp", opt.Transport)
	}
	conn, tln, err := listen(tcp)
	if err != nil {
		return nil, err
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(opt.User), sipgo.WithUserAgentHostname("127.0.0.1"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(opt.Logger)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(opt.Logger)))
	if err != nil {
		conn.Close()
		return nil, err
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(opt.Logger))
	if err != nil {
		conn.Close()
		ua.Close()
		return nil, err
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientLogger(opt.Logger),
		sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(port))
	if err != nil {
		conn.Close()
		ua.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Phone{
		opt: opt, ua: ua, srv: srv, cli: cli, conn: conn,
		laddr:    sip.Addr{IP: net.IPv4(127, 0, 0, 1), Port: port, Hostname: "127.0.0.1"},
		ctx:      ctx,
		cancel:   cancel,
		incoming: make(chan *Call, 16),
		messages: make(chan *sip.Request, 16),
		calls:    map[string]*Call{},
		subs:     map[string]*Subscription{},
	}
	p.aor = sip.Uri{Scheme: "sip", User: opt.User, Host: opt.Domain}
	if opt.Domain == "" {
		p.aor.Host, p.aor.Port = "127.0.0.1", port
	}
	p.dua = &sipgo.DialogUA{Client: cli, ContactHDR: p.contact()}
	p.routes()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = srv.ServeUDP(conn) // returns when conn closes
	}()
	if tln != nil {
		p.tcp = tln
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			_ = srv.ServeTCP(tln)
		}()
	}
	// Requests are sent from the listener (Laddr), which sipgo only knows
	// once ServeUDP has registered it; wait for that before returning.
	for i := 0; ; i++ {
		if c, _ := srv.TransportLayer().GetConnection("udp", conn.LocalAddr().String()); c != nil {
			break
		}
		if i > 1000 {
			p.close()
			return nil, errors.New("udp listener never registered")
		}
		time.Sleep(time.Millisecond)
	}
	return p, nil
}

func (p *Phone) routes() {
	p.srv.OnInvite(p.onInvite)
	p.srv.OnAck(p.onAck)
	p.srv.OnBye(p.onBye)
	p.srv.OnCancel(func(req *sip.Request, tx sip.ServerTransaction) {
		// CANCEL matching an INVITE is handled by the transaction layer; one
		// that reaches us matched nothing (RFC 3261 §9.2).
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	})
	p.srv.OnRefer(p.onRefer)
	p.srv.OnNotify(p.onNotify)
	p.srv.OnMessage(p.onMessage)
	p.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
}

func (p *Phone) close() {
	p.cancel()
	p.mu.Lock()
	calls := make([]*Call, 0, len(p.calls))
	for _, c := range p.calls {
		calls = append(calls, c)
	}
	p.mu.Unlock()
	for _, c := range calls {
		c.end("phone closed")
	}
	p.conn.Close()
	if p.tcp != nil {
		p.tcp.Close()
	}
	p.ua.Close()
	p.wg.Wait()
}

// AOR is the phone's address of record, e.g. sip:alice@example.test.
func (p *Phone) AOR() sip.Uri { return p.aor }

// Addr is the phone's SIP listener, host:port.
func (p *Phone) Addr() string { return p.laddr.String() }

// ContactURI is where in-dialog requests reach this phone.
func (p *Phone) ContactURI() sip.Uri {
	u := sip.Uri{Scheme: "sip", User: p.opt.User, Host: "127.0.0.1", Port: p.laddr.Port}
	if p.tcp != nil {
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", "tcp")
	}
	return u
}

// stamp sends a request over the phone's transport: UDP requests leave
// from the listener (our Contact), TCP ones on a connection of their own.
func (p *Phone) stamp(req *sip.Request) {
	if p.tcp != nil {
		req.SetTransport("TCP")
		return
	}
	req.Laddr = p.laddr
}

// listen binds UDP on 127.0.0.1:0 and, for TCP phones, TCP on the same
// port (retrying a few ports if TCP's is taken).
func listen(tcp bool) (net.PacketConn, net.Listener, error) {
	for i := 0; i < 20; i++ {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil || !tcp {
			return conn, nil, err
		}
		ln, err := net.Listen("tcp4", conn.LocalAddr().String())
		if err == nil {
			return conn, ln, nil
		}
		conn.Close()
	}
	return nil, nil, errors.New("no port free for both UDP and TCP")
}

func (p *Phone) contact() sip.ContactHeader {
	return sip.ContactHeader{Address: p.ContactURI()}
}

// Incoming delivers INVITEs that start a new call. Each waits, ringing, for
// Answer or Reject.
func (p *Phone) Incoming() <-chan *Call { return p.incoming }

// Messages delivers SIP MESSAGE requests (RFC 3428) after answering 200.
func (p *Phone) Messages() <-chan *sip.Request { return p.messages }

// ResponseError is a non-2xx final response to a request the phone sent.
type ResponseError struct {
	Res *sip.Response
}

func (e *ResponseError) Error() string {
	return fmt.Sprintf("siptest: %d %s", e.Res.StatusCode, e.Res.Reason)
}

// Status returns the status code of a *ResponseError in err's chain, or 0.
func Status(err error) int {
	var re *ResponseError
	if errors.As(err, &re) {
		return re.Res.StatusCode
	}
	return 0
}

// newRequest builds an out-of-dialog request from this phone, routed to
// the proxy when one is configured.
func (p *Phone) newRequest(method sip.RequestMethod, target string) (*sip.Request, error) {
	var uri sip.Uri
	if err := sip.ParseUri(target, &uri); err != nil {
		return nil, fmt.Errorf("siptest: parse %q: %w", target, err)
	}
	req := sip.NewRequest(method, uri)
	from := sip.FromHeader{Address: p.aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(12))
	req.AppendHeader(&from)
	to := sip.ToHeader{Address: sip.Uri{Scheme: uri.Scheme, User: uri.User, Host: uri.Host, Port: uri.Port}}
	req.AppendHeader(&to)
	ct := p.contact()
	req.AppendHeader(&ct)
	if p.opt.Proxy != "" {
		req.SetDestination(p.opt.Proxy)
	}
	p.stamp(req)
	return req, nil
}

// do sends a non-INVITE request and answers one digest challenge.
func (p *Phone) do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if (res.StatusCode == 401 || res.StatusCode == 407) && p.opt.Password != "" {
		res, err = p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.opt.User, Password: p.opt.Password})
		if err != nil {
			return nil, err
		}
	}
	if !res.IsSuccess() {
		return res, &ResponseError{Res: res}
	}
	return res, nil
}

// Register binds the phone's contact to its AOR for expires (0 unregisters),
// answering a digest challenge (RFC 3261 §10.2, §22.2). The request goes to
// Proxy, or to the Domain when Proxy is empty.
func (p *Phone) Register(ctx context.Context, expires time.Duration) (*sip.Response, error) {
	req, err := p.newRequest(sip.REGISTER, "sip:"+p.aor.Host)
	if err != nil {
		return nil, err
	}
	req.ReplaceHeader(&sip.ToHeader{Address: p.aor})
	if f := req.From(); f != nil {
		f.Address = p.aor
	}
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	return p.do(ctx, req)
}

// Message sends a SIP MESSAGE with a text/plain body.
func (p *Phone) Message(ctx context.Context, target, text string) error {
	req, err := p.newRequest(sip.MESSAGE, target)
	if err != nil {
		return err
	}
	req.RemoveHeader("Contact") // RFC 3428 §4: MESSAGE carries no Contact
	req.AppendHeader(sip.NewHeader("Content-Type", "text/plain"))
	req.SetBody([]byte(text))
	_, err = p.do(ctx, req)
	return err
}

func (p *Phone) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	select {
	case p.messages <- req:
	default: // a test that does not read messages must not block the phone
	}
}

// Calls returns a snapshot of the phone's live calls.
func (p *Phone) Calls() []*Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Call, 0, len(p.calls))
	for _, c := range p.calls {
		if !c.ended() {
			out = append(out, c)
		}
	}
	return out
}

func (p *Phone) addCall(c *Call) {
	p.mu.Lock()
	p.calls[c.callID] = c
	p.mu.Unlock()
}

func (p *Phone) removeCall(c *Call) {
	p.mu.Lock()
	if p.calls[c.callID] == c {
		delete(p.calls, c.callID)
	}
	p.mu.Unlock()
}

func (p *Phone) callByID(id string) *Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[id]
}

func headerValue(m interface{ GetHeader(string) sip.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return strings.TrimSpace(h.Value())
	}
	return ""
}

// URI is the AOR as a string, e.g. "sip:alice@example.test".
func (p *Phone) URI() string { return p.aor.String() }
