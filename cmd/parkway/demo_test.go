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

func startDemo(tb testing.TB) *demo {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runDemo(ctx, []string{"--http", addr}) }()
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
	for {
		select {
		case err := <-done:
			tb.Fatalf("demo ended: %v", err)
		default:
		}
		if s, err := d.status(); err == nil && s.Phase == signaling.PhaseNormal && allHealthy(s) {
			return d
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

func (d *demo) status() (dr.Snapshot, error) {
	var s dr.Snapshot
	resp, err := http.Get(d.url + "/api/dr")
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

// softphone signs in as user and returns its websocket after the welcome and first state.
func (d *demo) softphone(tb testing.TB, user string) (*websocket.Conn, *signaling.State) {
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
	tb.Cleanup(func() { conn.CloseNow() })
	frame, _ := signaling.Encode("", &signaling.Auth{Token: si.Token})
	if err := conn.Write(ctx, websocket.MessageText, frame); err != nil {
		tb.Fatal(err)
	}
	if _, ok := next(tb, conn).(*signaling.Welcome); !ok {
		tb.Fatal("no welcome")
	}
	st, ok := next(tb, conn).(*signaling.State)
	if !ok {
		tb.Fatal("no state after the welcome")
	}
	return conn, st
}

// next reads the next message that is not a heartbeat, answering the gateway's pings.
func next(tb testing.TB, conn *websocket.Conn) signaling.Message {
	tb.Helper()
	for {
		_, frame, err := conn.Read(context.Background())
		if err != nil {
			tb.Fatalf("read: %v", err)
		}
		_, m, err := signaling.Decode(signaling.FromGateway, frame)
		if err != nil {
			tb.Fatalf("decode %s: %v", frame, err)
		}
		if p, ok := m.(*signaling.Ping); ok {
			f, _ := signaling.Encode("", &signaling.Pong{Seq: p.Seq})
			conn.Write(context.Background(), websocket.MessageText, f)
			continue
		}
		return m
	}
}

// waitPhase reads states until one has one of the phases. The gateway keeps only the
// latest state for a client, so a phase that lasted a millisecond (outage, when there is
// nobody to redirect) may be replaced by the next before it is written.
func waitPhase(tb testing.TB, conn *websocket.Conn, ps ...signaling.Phase) *signaling.State {
	tb.Helper()
	for {
		if st, ok := next(tb, conn).(*signaling.State); ok && slices.Contains(ps, st.Phase) {
			return st
		}
	}
}

// TestDemo walks the demo through a real pool failure, as DESIGN.md §4 describes it,
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
	st = waitPhase(t, conn, signaling.PhaseOutage, signaling.PhaseFailover)
	t.Logf("%s pushed %v after pool-a stopped", st.Phase, time.Since(stopped).Round(time.Millisecond))
	if st.Phase == signaling.PhaseOutage {
		st = waitPhase(t, conn, signaling.PhaseFailover)
	}
	if !st.Resiliency || st.Capabilities[signaling.ActionPark].Allowed {
		t.Errorf("failover state %+v", st)
	}
	d.post(t, "/api/dr/failover", "")
	if st := waitPhase(t, conn, signaling.PhaseFailedOver); st.ActivePool != "pool-b" || !st.Capabilities[signaling.ActionRetrieve].Allowed {
		t.Errorf("failed-over state %+v", st)
	}
	d.post(t, "/api/demo/pools/pool-a/start", "")
	for s, _ := d.status(); !allHealthy(s); s, _ = d.status() {
		time.Sleep(20 * time.Millisecond)
	}
	d.post(t, "/api/dr/failback", "")
	waitPhase(t, conn, signaling.PhaseNormal)

	if err := d.stop(); err != nil {
		t.Errorf("demo: %v", err)
	}
	_, _, err = conn.Read(context.Background())
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
		st := waitPhase(b, conn, signaling.PhaseOutage, signaling.PhaseFailover)
		took := time.Since(start)
		b.StopTimer()
		total += took
		worst = max(worst, took)
		if st.Phase == signaling.PhaseOutage {
			waitPhase(b, conn, signaling.PhaseFailover)
		}
		d.post(b, "/api/demo/pools/pool-a/start", "")
		for s, _ := d.status(); !allHealthy(s); s, _ = d.status() {
			time.Sleep(20 * time.Millisecond)
		}
		d.post(b, "/api/dr/failback", "")
		waitPhase(b, conn, signaling.PhaseNormal)
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/stop-to-outage")
	b.ReportMetric(float64(worst.Milliseconds()), "max-ms")
}
