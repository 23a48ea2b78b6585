package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/signaling"
)

// demo is `parkway demo` running in this process on a free loopback port.
type demo struct {
	url  string
	stop func() error
}

func startDemo(tb testing.TB, flags ...string) *demo {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return startDemoAt(tb, addr, flags...)
}

// startDemoAt is startDemo serving on addr.
func startDemoAt(tb testing.TB, addr string, flags ...string) *demo {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runDemo(ctx, append([]string{"--http", addr}, flags...)) }()
	d := &demo{url: "http://" + addr}
	var once bool
	d.stop = func() error {
		if once {
			return nil
		}
		once = true
		cancel()
		return <-done
	}
	tb.Cleanup(func() { d.stop() })
	waitNormal(tb, d.url, func() (bool, error) {
		select {
		case err := <-done:
			once = true // stop must not wait for an end already received
			return true, err
		default:
			return false, nil
		}
	})
	return d
}

// waitNormal waits until the gateway at url is in phase normal with both pools healthy.
// ended reports whether the gateway has ended (and how): the test then fails at once.
//
// Bounded: a gateway whose prober missed its pools on a stalled machine fails over and
// never comes back to normal by itself; the test then fails saying so, not hangs until
// go test's -timeout. One that failed over by itself while both pools answer (its
// probes missed them on a machine stalled by the parallel test run: 3 × 250 ms) is
// failed back, as an operator would, and said so: the tests here are about the demo
// and the gateway command, not about probe timing under load (gateway/dr's tests are).
func waitNormal(tb testing.TB, url string, ended func() (bool, error)) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var nextRecovery time.Time
	for {
		if yes, err := ended(); yes {
			tb.Fatalf("the gateway ended before it was ready: %v", err)
		}
		s, err := drStatus(url)
		if err == nil && s.Phase == signaling.PhaseNormal && allHealthy(s) {
			return
		}
		if err == nil && allHealthy(s) && (s.Phase == signaling.PhaseFailover || s.Phase == signaling.PhaseFailedOver) && time.Now().After(nextRecovery) {
			tb.Logf("the gateway failed over by itself at start (phase %s, both pools healthy now): failing back", s.Phase)
			for _, path := range []string{"/api/dr/failover", "/api/dr/failback"} {
				if resp, err := http.Post(url+path, "application/json", nil); err == nil {
					resp.Body.Close()
				}
			}
			nextRecovery = time.Now().Add(time.Second)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the gateway was not normal with both pools healthy within 30 s: last status %+v, err %v", s, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func allHealthy(s dr.Snapshot) bool {
	for _, p := range s.Pools {
		if !p.Healthy {
			return false
		}
	}
	return len(s.Pools) == 2
}

func (d *demo) status() (dr.Snapshot, error) { return drStatus(d.url) }

// drStatus is GET /api/dr of the gateway at url.
func drStatus(url string) (dr.Snapshot, error) {
	var s dr.Snapshot
	resp, err := http.Get(url + "/api/dr")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

func (d *demo) post(tb testing.TB, path, body string) []byte {
	tb.Helper()
	resp, err := http.Post(d.url+path, "application/json", strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		tb.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

// phone is a softphone's websocket whose reader runs on its own goroutine, answering
// the gateway's pings as the real client does, however long the test looks elsewhere.
type phone struct {
	conn   *websocket.Conn
	msgs   chan signaling.Message
	closed chan error // the read error that ended the reader
}

// softphone signs in as user and returns its phone after the welcome and first state.
func (d *demo) softphone(tb testing.TB, user string) (*phone, *signaling.State) {
	tb.Helper()
	var si struct{ Token string }
	if err := json.Unmarshal(d.post(tb, "/api/session", `{"user":"`+user+`"}`), &si); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(d.url, "http")+"/ws", nil)
	if err != nil {
		tb.Fatal(err)
	}
	p := &phone{conn: conn, msgs: make(chan signaling.Message, 1024), closed: make(chan error, 1)}
	done := make(chan struct{})
	go p.read(done)
	tb.Cleanup(func() { conn.CloseNow(); <-done })
	frame, _ := signaling.Encode("", &signaling.Auth{Token: si.Token})
	if err := conn.Write(ctx, websocket.MessageText, frame); err != nil {
		tb.Fatal(err)
	}
	if _, ok := p.next(tb).(*signaling.Welcome); !ok {
		tb.Fatal("no welcome")
	}
	st, ok := p.next(tb).(*signaling.State)
	if !ok {
		tb.Fatal("no state after the welcome")
	}
	return p, st
}

func (p *phone) read(done chan<- struct{}) {
	defer close(done)
	for {
		_, frame, err := p.conn.Read(context.Background())
		if err != nil {
			p.closed <- err
			close(p.msgs)
			return
		}
		_, m, err := signaling.Decode(signaling.FromGateway, frame)
		if err != nil {
			p.closed <- err
			close(p.msgs)
			return
		}
		if ping, ok := m.(*signaling.Ping); ok {
			f, _ := signaling.Encode("", &signaling.Pong{Seq: ping.Seq})
			p.conn.Write(context.Background(), websocket.MessageText, f)
			continue
		}
		p.msgs <- m
	}
}

// next returns the next message that is not a heartbeat.
func (p *phone) next(tb testing.TB) signaling.Message {
	tb.Helper()
	m, ok := <-p.msgs
	if !ok {
		tb.Fatalf("websocket ended: %v", <-p.closed)
	}
	return m
}

// waitPhase reads states until one has one of the phases. The gateway keeps only the
// latest state for a client, so a phase that lasted a millisecond (outage, when there is
// nobody to redirect) may be replaced by the next before it is written.
func (p *phone) waitPhase(tb testing.TB, ps ...signaling.Phase) *signaling.State {
	tb.Helper()
	for {
		if st, ok := p.next(tb).(*signaling.State); ok && slices.Contains(ps, st.Phase) {
			return st
		}
	}
}

// TestDemo walks the demo through a real pool failure, as ARCHITECTURE.md §4 describes it,
// watching it from a softphone's websocket: every phase is pushed.
func TestDemo(t *testing.T) {
	d := startDemo(t)
	resp, err := http.Get(d.url + "/?user=alice")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 && resp.StatusCode != 503 { // 503 names the build step when main.wasm is missing
		t.Errorf("GET /?user=alice: %d", resp.StatusCode)
	}
	conn, st := d.softphone(t, "alice")
	if st.Phase != signaling.PhaseNormal || st.HomePool != "pool-a" {
		t.Fatalf("first state %+v", st)
	}
	stopped := time.Now()
	d.post(t, "/api/demo/pools/pool-a/stop", "")
	st = conn.waitPhase(t, signaling.PhaseOutage, signaling.PhaseFailover)
	t.Logf("%s pushed %v after pool-a stopped", st.Phase, time.Since(stopped).Round(time.Millisecond))
	if st.Phase == signaling.PhaseOutage {
		st = conn.waitPhase(t, signaling.PhaseFailover)
	}
	if !st.Resiliency || st.Capabilities[signaling.ActionPark].Allowed {
		t.Errorf("failover state %+v", st)
	}
	d.post(t, "/api/dr/failover", "")
	if st := conn.waitPhase(t, signaling.PhaseFailedOver); st.ActivePool != "pool-b" || !st.Capabilities[signaling.ActionRetrieve].Allowed {
		t.Errorf("failed-over state %+v", st)
	}
	d.post(t, "/api/demo/pools/pool-a/start", "")
	for s, _ := d.status(); !allHealthy(s); s, _ = d.status() {
		time.Sleep(20 * time.Millisecond)
	}
	d.post(t, "/api/dr/failback", "")
	conn.waitPhase(t, signaling.PhaseNormal)

	if err := d.stop(); err != nil {
		t.Errorf("demo: %v", err)
	}
	for range conn.msgs {
	}
	err = <-conn.closed
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway {
		t.Errorf("after the demo stopped: %v, want close 1001", err)
	}
}

// BenchmarkPoolStopToOutagePushed is the closing note's "time from pool stop to outage
// pushed": from POST /api/demo/pools/pool-a/stop to a softphone's websocket reading the
// outage state, through the real pools, the DR controller's OPTIONS probes and the
// gateway. Each iteration then brings the pair back to normal (not timed).
func BenchmarkPoolStopToOutagePushed(b *testing.B) {
	d := startDemo(b)
	conn, _ := d.softphone(b, "alice")
	var total time.Duration
	var worst time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for s, _ := d.status(); s.Phase != signaling.PhaseNormal || !allHealthy(s); s, _ = d.status() {
			time.Sleep(20 * time.Millisecond)
		}
		b.StartTimer()
		start := time.Now()
		d.post(b, "/api/demo/pools/pool-a/stop", "")
		// Outage, or failover when outage lasted too briefly to be written (see waitPhase).
		st := conn.waitPhase(b, signaling.PhaseOutage, signaling.PhaseFailover)
		took := time.Since(start)
		b.StopTimer()
		total += took
		worst = max(worst, took)
		if st.Phase == signaling.PhaseOutage {
			conn.waitPhase(b, signaling.PhaseFailover)
		}
		d.post(b, "/api/demo/pools/pool-a/start", "")
		for s, _ := d.status(); !allHealthy(s); s, _ = d.status() {
			time.Sleep(20 * time.Millisecond)
		}
		d.post(b, "/api/dr/failback", "")
		conn.waitPhase(b, signaling.PhaseNormal)
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/stop-to-outage")
	b.ReportMetric(float64(worst.Milliseconds()), "max-ms")
}
