package webload

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/browsertest"
	"github.com/parkway/parkway/signaling"
)

// Config is one run.
type Config struct {
	// Gateway is the gateway's base URL, http://host:port.
	Gateway string
	// Users sign in, one call each, in order; at least the largest step of them.
	Users []string
	// Target is whom every call dials (default "erin").
	Target string
	// Steps are the numbers of concurrent calls measured, rising (default [10]).
	Steps []int
	// Warmup is the load before each step's window (default 2 s); Duration the window
	// (default 5 s); Grace how long after it the window's last echoes may come back
	// (default 1 s).
	Warmup, Duration, Grace time.Duration
	// LateAfter is the round trip over which an echo is late (default 200 ms).
	LateAfter time.Duration
	// EmbedKey, when set, signs users in with widget tickets bought with it; empty: the
	// demo's sign-in by name.
	EmbedKey string
	// Dialers is how many users sign in and dial at once (default 4): each call gathers
	// ICE candidates and handshakes DTLS.
	Dialers int
	// StopAbove ends the steps after one whose lost + late reached this many % of the
	// packets (clearly overloaded); 0 runs every step.
	StopAbove float64
	// SetupTimeout bounds one user's sign-in, registration and call set-up (default 2 min).
	SetupTimeout time.Duration
	// OnWindow, if set, is called as each step's window starts and as it ends.
	OnWindow func(calls int, start bool)
	// OnStep, if set, gets each step's numbers as soon as they are measured.
	OnStep func(Step)
	// Logf, if set, gets a line of progress now and then.
	Logf func(format string, args ...any)
}

// Step is what one step measured.
type Step struct {
	Calls   int     `json:"calls"`
	Seconds float64 `json:"seconds"` // the window's length
	// SetupSeconds is how long the step's new calls took to come up (sign-in to active).
	SetupSeconds float64 `json:"setupSeconds"`
	Sent         int64   `json:"sent"`
	Echoed       int64   `json:"echoed"`
	Lost         int64   `json:"lost"`
	Late         int64   `json:"late"`
	LossPct      float64 `json:"lossPct"`
	LatePct      float64 `json:"latePct"`
	// Round trips of the window's echoes.
	RTTP50 time.Duration `json:"rttP50"`
	RTTP99 time.Duration `json:"rttP99"`
	RTTMax time.Duration `json:"rttMax"`
	// Silent: calls with no echo in the window. Misrouted: echoes naming another call.
	// Ended: calls the gateway ended so far (all steps).
	Silent    int   `json:"silent"`
	Misrouted int64 `json:"misrouted"`
	Ended     int   `json:"ended"`
	// SendLagMax is how far the pacer fell behind its schedule in the window; Unsent
	// the probes it skipped when it fell more than 100 ms behind (this process not run
	// in time: the generator's own overload, or the machine's), counted neither as
	// sent nor as lost.
	SendLagMax time.Duration `json:"sendLagMax"`
	Unsent     int64         `json:"unsent"`
	// LoadCPU is the generator's own CPU in the window, % of one core.
	LoadCPU float64 `json:"loadCpuPct"`
}

// Result is every step run; Stopped says ctx ended the run early.
type Result struct {
	Steps   []Step `json:"steps"`
	Stopped bool   `json:"stopped,omitempty"`
}

// probeLen is a probe's payload: 20 ms of PCMU. It starts with the call's index (4
// bytes) and the send time (8 bytes, ns since the run's epoch).
const probeLen = 160

// maxLag is how far the pacer may fall behind its schedule before it skips ticks.
const maxLag = 100 * time.Millisecond

// tick is the pacer's period; every call sends once per interval (ticks of it).
const (
	tick     = 2 * time.Millisecond
	interval = 20 * time.Millisecond
	groups   = int(interval / tick)
)

// run is one Run's state shared by the pacer, the calls' readers and the steps.
type run struct {
	cfg   Config
	epoch time.Time
	api   *webrtc.API
	http  *http.Client

	tabs atomic.Pointer[[]*tab] // calls up, in index order; the pacer's list

	// The window, as send times since epoch: [from, to). from = MaxInt64: closed.
	from, to atomic.Int64
	echoed   atomic.Int64
	late     atomic.Int64
	misroute atomic.Int64
	hist     histogram
	ended    atomic.Int64

	hearing sync.WaitGroup // the calls' track readers
}

// tab is one signed-in user with one call.
type tab struct {
	r     *run
	index uint32
	user  string
	conn  *websocket.Conn
	pc    *webrtc.PeerConnection
	track *webrtc.TrackLocalStaticRTP
	seq   uint16 // the pacer's alone

	echoes   atomic.Int64 // in the window
	readDone chan struct{}

	// wmu is held while the waiter runs: once await has cleared it, none is running.
	wmu    sync.Mutex
	waiter func(signaling.Envelope, signaling.Message) // a request's, while it waits

	mu     sync.Mutex
	callID string
	ended  bool
}

// Run signs users in and places calls step by step, and returns what each step
// measured. A ctx that ends stops it: the steps measured so far come back with
// Result.Stopped.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = withDefaults(cfg)
	if n := cfg.Steps[len(cfg.Steps)-1]; len(cfg.Users) < n {
		return nil, fmt.Errorf("webload: %d users for %d calls", len(cfg.Users), n)
	}
	for i := 1; i < len(cfg.Steps); i++ {
		if cfg.Steps[i] <= cfg.Steps[i-1] {
			return nil, fmt.Errorf("webload: steps must rise: %v", cfg.Steps)
		}
	}
	// Every call's ICE on one UDP socket (pion's UDP mux: one reader for all), not a
	// socket and its goroutines per call: the generator's own cost stays low, and
	// the gateway still sees one remote transport address per call's ICE pair.
	mux, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("webload: the calls' UDP socket: %w", err)
	}
	_ = mux.SetReadBuffer(4 << 20)
	_ = mux.SetWriteBuffer(4 << 20)
	udpMux := webrtc.NewICEUDPMux(nil, mux)
	defer udpMux.Close()
	me := &webrtc.MediaEngine{}
	for _, c := range browsertest.G711 {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, err
		}
	}
	se := browsertest.LoopbackSettings()
	se.SetICEUDPMux(udpMux)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
	r := &run{cfg: cfg, epoch: time.Now(), api: api,
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Dialers + 2}}}
	r.from.Store(math.MaxInt64)
	r.tabs.Store(&[]*tab{})
	defer r.close()

	pacerCtx, stopPacer := context.WithCancel(context.Background())
	lag := newLagTracker()
	pacerDone := make(chan struct{})
	go func() {
		defer close(pacerDone)
		r.pace(pacerCtx, lag)
	}()
	defer func() {
		stopPacer()
		<-pacerDone
	}()

	res := &Result{}
	for _, n := range cfg.Steps {
		setup := time.Now()
		if err := r.addCalls(ctx, n); err != nil {
			if ctx.Err() != nil {
				res.Stopped = true
				return res, nil
			}
			return res, err
		}
		setupTook := time.Since(setup)
		r.logf("%d calls up in %v", n, setupTook.Round(time.Millisecond))
		st, ok := r.measure(ctx, n, lag)
		st.SetupSeconds = setupTook.Seconds()
		if !ok {
			res.Stopped = true
			return res, nil
		}
		res.Steps = append(res.Steps, st)
		if cfg.OnStep != nil {
			cfg.OnStep(st)
		}
		r.logf("calls=%d sent=%d lost=%d (%.3f%%) late=%d (%.3f%%) rtt p50=%v p99=%v silent=%d ended=%d pacer lag max %v, generator CPU %.0f%%",
			n, st.Sent, st.Lost, st.LossPct, st.Late, st.LatePct, st.RTTP50, st.RTTP99, st.Silent, st.Ended, st.SendLagMax, st.LoadCPU)
		if cfg.StopAbove > 0 && st.LossPct+st.LatePct >= cfg.StopAbove {
			break
		}
	}
	return res, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Target == "" {
		cfg.Target = "erin"
	}
	if len(cfg.Steps) == 0 {
		cfg.Steps = []int{10}
	}
	if cfg.Warmup <= 0 {
		cfg.Warmup = 2 * time.Second
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 5 * time.Second
	}
	if cfg.Grace <= 0 {
		cfg.Grace = time.Second
	}
	if cfg.LateAfter <= 0 {
		cfg.LateAfter = 200 * time.Millisecond
	}
	if cfg.Dialers <= 0 {
		cfg.Dialers = 4
	}
	if cfg.SetupTimeout <= 0 {
		cfg.SetupTimeout = 2 * time.Minute
	}
	cfg.Gateway = strings.TrimSuffix(cfg.Gateway, "/")
	return cfg
}

func (r *run) logf(format string, args ...any) {
	if r.cfg.Logf != nil {
		r.cfg.Logf(format, args...)
	}
}

// measure runs one step's warm-up, window and grace; false: ctx ended first.
func (r *run) measure(ctx context.Context, n int, lag *lagTracker) (Step, bool) {
	sleep := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	if !sleep(r.cfg.Warmup) {
		return Step{}, false
	}
	tabs := *r.tabs.Load()
	r.echoed.Store(0)
	r.late.Store(0)
	r.misroute.Store(0)
	r.hist.reset()
	for _, t := range tabs {
		t.echoes.Store(0)
	}
	lag.reset()
	r.to.Store(math.MaxInt64)
	cpu0, t0 := selfCPU(), time.Now()
	r.from.Store(int64(t0.Sub(r.epoch)))
	if r.cfg.OnWindow != nil {
		r.cfg.OnWindow(n, true)
	}
	ok := sleep(r.cfg.Duration)
	t1 := time.Now()
	r.to.Store(int64(t1.Sub(r.epoch)))
	cpu := selfCPU() - cpu0
	if r.cfg.OnWindow != nil {
		r.cfg.OnWindow(n, false)
	}
	sent, unsent, lagMax := lag.window()
	if !ok || !sleep(r.cfg.Grace) {
		return Step{}, false
	}
	r.from.Store(math.MaxInt64)
	wall := t1.Sub(t0)
	st := Step{Calls: n, Seconds: wall.Seconds(), Sent: sent, Echoed: r.echoed.Load(), Late: r.late.Load(),
		Misrouted: r.misroute.Load(), Ended: int(r.ended.Load()), SendLagMax: lagMax, Unsent: unsent,
		LoadCPU: 100 * float64(cpu) / float64(wall)}
	st.Lost = max(0, st.Sent-st.Echoed)
	if st.Sent > 0 {
		st.LossPct = 100 * float64(st.Lost) / float64(st.Sent)
		st.LatePct = 100 * float64(st.Late) / float64(st.Sent)
	}
	st.RTTP50, st.RTTP99, st.RTTMax = r.hist.quantile(0.50), r.hist.quantile(0.99), r.hist.max()
	for _, t := range tabs {
		if t.echoes.Load() == 0 {
			st.Silent++
		}
	}
	return st, true
}

// addCalls signs users in and places their calls until n are up, Dialers at a time.
func (r *run) addCalls(ctx context.Context, n int) error {
	have := *r.tabs.Load()
	first := len(have)
	added := make([]*tab, n-first)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	next := atomic.Int64{}
	next.Store(int64(first))
	for range min(r.cfg.Dialers, n-first) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				t, err := r.connect(ctx, uint32(i), r.cfg.Users[i])
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				added[i-first] = t
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		for _, t := range added {
			if t != nil {
				t.close()
			}
		}
		return firstErr
	}
	all := append(append([]*tab(nil), have...), added...)
	r.tabs.Store(&all)
	return nil
}

// connect signs one user in, waits for the user's registration and places the call.
func (r *run) connect(ctx context.Context, index uint32, user string) (*tab, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.SetupTimeout)
	defer cancel()
	token, err := r.signIn(ctx, user)
	if err != nil {
		return nil, err
	}
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.cfg.Gateway, "http")+"/ws", &websocket.DialOptions{
		HTTPClient: r.http, HTTPHeader: http.Header{"Origin": {r.cfg.Gateway}}})
	if err != nil {
		return nil, fmt.Errorf("webload: %s: websocket: %w", user, err)
	}
	conn.SetReadLimit(1 << 20)
	t := &tab{r: r, index: index, user: user, conn: conn, readDone: make(chan struct{})}
	if err := t.send(ctx, "auth", &signaling.Auth{Token: token}); err != nil {
		conn.CloseNow()
		return nil, err
	}
	if _, frame, err := conn.Read(ctx); err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("webload: %s: waiting for the welcome: %w", user, err)
	} else if _, m, err := signaling.Decode(signaling.FromGateway, frame); err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("webload: %s: %w", user, err)
	} else if _, ok := m.(*signaling.Welcome); !ok {
		conn.CloseNow()
		return nil, fmt.Errorf("webload: %s: the gateway answered auth with %s", user, frame)
	}
	go t.read()
	for attempt := 1; ; attempt++ {
		if err := t.waitReady(ctx); err != nil {
			t.close()
			return nil, err
		}
		err := t.dial(ctx)
		if err == nil {
			return t, nil
		}
		// Refused or ended as unavailable (the user's pool went out of reach between
		// the check and the call, as the DR prober saw it): a user tries again, a few
		// times.
		var se *signaling.Error
		var ended *setupEnded
		unavailable := (errors.As(err, &se) && se.Code == signaling.CodeUnavailable) ||
			(errors.As(err, &ended) && ended.reason == "unavailable")
		if !unavailable || attempt == maxAttempts || ctx.Err() != nil {
			t.close()
			return nil, err
		}
		r.logf("%s: %v; trying again", user, err)
		if t.pc != nil {
			_ = t.pc.Close()
			t.pc = nil
		}
	}
}

// signIn gets a session token: a widget ticket exchanged, or the demo's sign-in.
func (r *run) signIn(ctx context.Context, user string) (string, error) {
	if r.cfg.EmbedKey == "" {
		var si struct{ Token string }
		if err := r.post(ctx, "/api/session", map[string]string{"user": user}, nil, &si); err != nil {
			return "", fmt.Errorf("webload: sign in %s: %w", user, err)
		}
		return si.Token, nil
	}
	var grant struct{ Ticket string }
	if err := r.post(ctx, "/api/tickets", map[string]string{"user": user},
		http.Header{"Authorization": {"Bearer " + r.cfg.EmbedKey}}, &grant); err != nil {
		return "", fmt.Errorf("webload: a ticket for %s: %w", user, err)
	}
	// The widget page, on the gateway's own origin and framed by it, exchanges it.
	var si struct{ Token string }
	if err := r.post(ctx, "/api/widget/session", map[string]string{"ticket": grant.Ticket, "embedder": r.cfg.Gateway},
		http.Header{"Origin": {r.cfg.Gateway}}, &si); err != nil {
		return "", fmt.Errorf("webload: %s's ticket: %w", user, err)
	}
	return si.Token, nil
}

func (r *run) post(ctx context.Context, path string, body any, h http.Header, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.Gateway+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", path, resp.Status, bytes.TrimSpace(data))
	}
	return json.Unmarshal(data, out)
}

func (t *tab) send(ctx context.Context, id string, m signaling.Message) error {
	frame, err := signaling.Encode(id, m)
	if err != nil {
		return err
	}
	if err := t.conn.Write(ctx, websocket.MessageText, frame); err != nil {
		return fmt.Errorf("webload: %s: send: %w", t.user, err)
	}
	return nil
}

// read takes every frame until the websocket ends: pings answered, the dial's
// messages handed to it, the call's end noted.
func (t *tab) read() {
	defer close(t.readDone)
	ctx := context.Background()
	for {
		_, frame, err := t.conn.Read(ctx)
		if err != nil {
			return
		}
		env, m, err := signaling.Decode(signaling.FromGateway, frame)
		if err != nil {
			continue
		}
		if ping, ok := m.(*signaling.Ping); ok {
			_ = t.send(ctx, "", &signaling.Pong{Seq: ping.Seq})
			continue
		}
		t.mu.Lock()
		if c, ok := m.(*signaling.Call); ok && c.ID == t.callID && c.State == signaling.CallEnded && !t.ended {
			t.ended = true
			t.r.ended.Add(1)
		}
		t.mu.Unlock()
		t.wmu.Lock()
		if t.waiter != nil {
			t.waiter(env, m)
		}
		t.wmu.Unlock()
	}
}

// await sends m as request id and hands every later message to f until f says done
// (with its error) or ctx ends.
func (t *tab) await(ctx context.Context, id string, m signaling.Message, f func(signaling.Envelope, signaling.Message) (bool, error)) error {
	result := make(chan error, 1)
	var once sync.Once
	t.wmu.Lock()
	t.waiter = func(env signaling.Envelope, m signaling.Message) {
		if done, err := f(env, m); done {
			once.Do(func() { result <- err })
		}
	}
	t.wmu.Unlock()
	defer func() {
		t.wmu.Lock()
		t.waiter = nil
		t.wmu.Unlock()
	}()
	if err := t.send(ctx, id, m); err != nil {
		return err
	}
	select {
	case err := <-result:
		return err
	case <-t.readDone:
		return fmt.Errorf("webload: %s: the websocket closed", t.user)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxAttempts is how many times a user places a call that the gateway finds
// unavailable before the run gives up.
const maxAttempts = 5

// setupEnded is a call that ended before it was active.
type setupEnded struct{ user, reason string }

func (e *setupEnded) Error() string {
	return fmt.Sprintf("webload: %s: the call ended while being set up (%s)", e.user, e.reason)
}

// readyProbe is whom the readiness check pretends to call.
const readyProbe = "webload-ready"

// waitReady asks, until the gateway's answer says the user is registered: a call
// without SDP is refused "unavailable" before and for its missing SDP after.
func (t *tab) waitReady(ctx context.Context) error {
	for i := 0; ; i++ {
		id := fmt.Sprintf("ready%d", i)
		var last *signaling.Error
		err := t.await(ctx, id, &signaling.Request{Action: signaling.ActionCall, Target: readyProbe}, func(_ signaling.Envelope, m signaling.Message) (bool, error) {
			if e, ok := m.(*signaling.Error); ok && e.Ref == id {
				last = e
				return true, nil
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("webload: %s waiting to be registered: %w", t.user, err)
		}
		if last.Code == signaling.CodeBadField && last.Field == "sdp" {
			return nil
		}
		if last.Code != signaling.CodeUnavailable {
			return fmt.Errorf("webload: %s waiting to be registered: %w", t.user, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("webload: %s waiting to be registered (last: %v): %w", t.user, last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// dial places the user's call with a PeerConnection of its own and returns once the
// call is active and its media connected.
func (t *tab) dial(ctx context.Context) error {
	track, err := webrtc.NewTrackLocalStaticRTP(browsertest.PCMU, "probe", fmt.Sprintf("webload-%d", t.index))
	if err != nil {
		return err
	}
	pc, err := t.r.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return fmt.Errorf("webload: %s: peer connection: %w", t.user, err)
	}
	t.pc, t.track = pc, track
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		return err
	}
	connected := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		t.r.hearing.Add(1)
		go func() {
			defer t.r.hearing.Done()
			t.hear(tr)
		}()
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fmt.Errorf("webload: %s: gathering candidates: %w", t.user, ctx.Err())
	}
	id := "dial"
	var answered, active bool
	var answerErr error
	err = t.await(ctx, id, &signaling.Request{Action: signaling.ActionCall, Target: t.r.cfg.Target, SDP: pc.LocalDescription().SDP},
		func(env signaling.Envelope, m signaling.Message) (bool, error) {
			switch m := m.(type) {
			case *signaling.Error:
				if m.Ref == id {
					return true, fmt.Errorf("webload: %s: the call was refused: %w", t.user, m)
				}
			case *signaling.Call:
				if env.ID == id && m.SDP != "" && !answered {
					answered = true
					t.mu.Lock()
					t.callID = m.ID
					t.mu.Unlock()
					if answerErr = pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); answerErr != nil {
						return true, answerErr
					}
				}
				if !answered || m.ID != t.callID {
					return false, nil
				}
				switch m.State {
				case signaling.CallEnded:
					return true, &setupEnded{user: t.user, reason: string(m.Reason)}
				case signaling.CallActive:
					active = true
					return true, nil
				}
			}
			return false, nil
		})
	if err != nil {
		return err
	}
	if !active {
		return fmt.Errorf("webload: %s: the call never became active", t.user)
	}
	select {
	case <-connected:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("webload: %s: media never connected to the gateway: %w", t.user, ctx.Err())
	}
}

// hear reads the echoes of one call's remote track until the PeerConnection closes.
func (t *tab) hear(tr *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	r := t.r
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		if pkt.Unmarshal(buf[:n]) != nil || len(pkt.Payload) < 12 {
			continue
		}
		sent := int64(binary.BigEndian.Uint64(pkt.Payload[4:12]))
		if sent < r.from.Load() || sent >= r.to.Load() {
			continue
		}
		if binary.BigEndian.Uint32(pkt.Payload[0:4]) != t.index {
			r.misroute.Add(1)
			continue
		}
		rtt := time.Duration(int64(time.Since(r.epoch)) - sent)
		r.echoed.Add(1)
		t.echoes.Add(1)
		if rtt > r.cfg.LateAfter {
			r.late.Add(1)
		}
		r.hist.add(rtt)
	}
}

// pace sends one probe per call every interval, a tenth of the calls each tick, until
// ctx ends.
func (r *run) pace(ctx context.Context, lag *lagTracker) {
	payload := make([]byte, probeLen)
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0}, Payload: payload}
	due := time.Now()
	for k := 0; ; k++ {
		due = due.Add(tick)
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		} else if ctx.Err() != nil {
			return
		}
		now := time.Now()
		tabs := *r.tabs.Load()
		from, to := r.from.Load(), r.to.Load()
		if behind := now.Sub(due); behind > maxLag {
			// Far behind (this process was not run): skip the ticks missed rather than
			// send them in a burst, which would load the gateway with what no browser
			// sends. Their probes count as unsent, not as sent and lost.
			missed := int(behind / tick)
			lag.skip(behind, int64(missed*len(tabs)/groups), from, to, int64(now.Sub(r.epoch)))
			k += missed
			due = due.Add(time.Duration(missed) * tick)
		}
		var inWindow int64
		for i := k % groups; i < len(tabs); i += groups {
			t := tabs[i]
			stamp := int64(time.Since(r.epoch))
			binary.BigEndian.PutUint32(payload[0:4], t.index)
			binary.BigEndian.PutUint64(payload[4:12], uint64(stamp))
			pkt.SequenceNumber = t.seq
			pkt.Timestamp = uint32(t.seq) * 160
			t.seq++
			if t.track.WriteRTP(&pkt) == nil && stamp >= from && stamp < to {
				inWindow++
			}
		}
		lag.tick(now.Sub(due), inWindow)
	}
}

// close hangs every call up and closes its PeerConnection and websocket.
func (r *run) close() {
	tabs := *r.tabs.Load()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, t := range tabs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t.close()
		}()
	}
	wg.Wait()
	r.hearing.Wait() // each ends with its PeerConnection
}

func (t *tab) close() {
	t.mu.Lock()
	id := t.callID
	t.mu.Unlock()
	if id != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = t.send(ctx, "bye", &signaling.Request{Action: signaling.ActionHangup, Call: id})
		cancel()
	}
	if t.pc != nil {
		_ = t.pc.Close()
	}
	_ = t.conn.Close(websocket.StatusNormalClosure, "")
	select {
	case <-t.readDone:
	case <-time.After(5 * time.Second):
		t.conn.CloseNow()
		<-t.readDone
	}
}

// lagTracker is the pacer's record for the window: packets sent in it and the most it
// fell behind.
type lagTracker struct {
	mu     sync.Mutex
	sent   int64
	unsent int64
	maxLag time.Duration
}

// skip records probes the pacer did not send, behind its schedule by lag, when now (a
// send time) is in the window [from, to).
func (l *lagTracker) skip(lag time.Duration, probes int64, from, to, now int64) {
	l.mu.Lock()
	l.maxLag = max(l.maxLag, lag)
	if now >= from && now < to {
		l.unsent += probes
	}
	l.mu.Unlock()
}

func newLagTracker() *lagTracker { return &lagTracker{} }

func (l *lagTracker) tick(lag time.Duration, sent int64) {
	l.mu.Lock()
	l.sent += sent
	l.maxLag = max(l.maxLag, lag)
	l.mu.Unlock()
}

func (l *lagTracker) reset() {
	l.mu.Lock()
	l.sent, l.unsent, l.maxLag = 0, 0, 0
	l.mu.Unlock()
}

// window returns what was recorded since reset; a packet sent at the window's end may
// be counted a tick later, so it waits one interval for the pacer first.
func (l *lagTracker) window() (sent, unsent int64, maxLag time.Duration) {
	time.Sleep(interval)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent, l.unsent, l.maxLag
}

// histogram of round trips: 10 µs steps below 10 ms, 100 µs below 100 ms, 1 ms below
// 4 s, the rest in the last bucket.
type histogram struct {
	b   [1000 + 900 + 3900 + 1]atomic.Uint32
	top atomic.Int64
}

func bucketOf(d time.Duration) int {
	us := d.Microseconds()
	switch {
	case us < 0:
		return 0
	case us < 10_000:
		return int(us / 10)
	case us < 100_000:
		return 1000 + int((us-10_000)/100)
	case us < 4_000_000:
		return 1900 + int((us-100_000)/1000)
	}
	return 5800
}

// upper is the bucket's upper bound.
func upper(i int) time.Duration {
	switch {
	case i < 1000:
		return time.Duration(i+1) * 10 * time.Microsecond
	case i < 1900:
		return 10*time.Millisecond + time.Duration(i-1000+1)*100*time.Microsecond
	case i < 5800:
		return 100*time.Millisecond + time.Duration(i-1900+1)*time.Millisecond
	}
	return 4 * time.Second
}

func (h *histogram) add(d time.Duration) {
	h.b[bucketOf(d)].Add(1)
	for {
		top := h.top.Load()
		if int64(d) <= top || h.top.CompareAndSwap(top, int64(d)) {
			return
		}
	}
}

func (h *histogram) reset() {
	for i := range h.b {
		h.b[i].Store(0)
	}
	h.top.Store(0)
}

func (h *histogram) max() time.Duration { return time.Duration(h.top.Load()) }

// quantile is the upper bound of the bucket holding the q-th round trip (0 when none).
func (h *histogram) quantile(q float64) time.Duration {
	var total uint64
	for i := range h.b {
		total += uint64(h.b[i].Load())
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i := range h.b {
		seen += uint64(h.b[i].Load())
		if seen >= max(rank, 1) {
			return min(upper(i), h.max())
		}
	}
	return h.max()
}

// selfCPU is the CPU this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
