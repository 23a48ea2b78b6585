package gateway

import (
	"context"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parkway/parkway/signaling"
)

// The lock order (phone/doc.go) under load. While alice and bob call each other,
// mute and hang up (each push takes phone.out, then phone.mu and the hub's lock), more
// tabs of theirs join and leave (a greeting takes phone.out, phone.mu and the hub's
// lock; leaving takes phone.mu, then the parked feed's), and the phase flips (the hub
// asks every tab's phone for its focus under its own lock; the parked feed hears of
// the pools). A lock taken against the order deadlocks here: the watchdog then prints
// every goroutine's stack and fails; the race detector checks the rest.
func TestCallsLockOrderUnderLoad(t *testing.T) {
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-finished:
		case <-time.After(2 * time.Minute):
			buf := make([]byte, 1<<24)
			os.Stderr.Write(buf[:runtime.Stack(buf, true)])
			panic("TestCallsLockOrderUnderLoad: still running after 2 minutes, a deadlock? (stacks above)")
		}
	}()
	g, poolA := callGateway(t)
	aliceWS, _ := g.connect(t, "alice")
	bobWS, _ := g.connect(t, "bob")
	ready(t, g, poolA, "alice", "bob")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	for i := range 8 {
		user := []string{"alice", "bob"}[i%2]
		token := g.signIn(t, user)
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				churnTab(t, g, token, time.Duration(i)*time.Millisecond)
			}
		})
	}
	wg.Go(func() {
		phases := []signaling.Phase{signaling.PhaseFailedOver, signaling.PhaseNormal}
		for n := 0; ; n++ {
			select {
			case <-stop:
				g.ctl.set(signaling.PhaseNormal)
				return
			case <-time.After(3 * time.Millisecond):
			}
			g.ctl.set(phases[n%2])
		}
	})

	for round := range 3 {
		aliceID, _, _, _ := establish(t, aliceWS, bobWS, "bob")
		for _, muted := range []bool{true, false, true} {
			aliceWS.send(request("mute", &signaling.Request{Action: signaling.ActionMute, Call: aliceID, Muted: &muted}))
			nextCall(t, aliceWS, "alice's mute told", func(_ signaling.Envelope, m *signaling.Call) bool { return m.ID == aliceID && m.Muted == muted })
		}
		act(aliceWS, "bye", signaling.ActionHangup, aliceID)
		ended(t, aliceWS, aliceID)
		alive(t, bobWS, uint64(round+1))
	}
}

// churnTab opens a tab with token, lets it be greeted for a moment and closes it. It
// never fails the test: the gateway may refuse or cut a tab, which is not what the
// lock order test is about.
func churnTab(t *testing.T, g *testGateway, token string, linger time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, g.ws, nil)
	if err != nil {
		t.Logf("a churning tab could not dial: %v", err)
		time.Sleep(10 * time.Millisecond)
		return
	}
	defer conn.CloseNow()
	frame, _ := signaling.Encode("a", &signaling.Auth{Token: token})
	if conn.Write(ctx, websocket.MessageText, frame) != nil {
		return
	}
	// The welcome: the greeting has begun.
	if _, _, err := conn.Read(ctx); err != nil {
		return
	}
	time.Sleep(linger)
	conn.Close(websocket.StatusNormalClosure, "")
}
