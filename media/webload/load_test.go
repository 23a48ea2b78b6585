package webload_test

import (
	"context"
	"testing"
	"time"

	"github.com/parkway/parkway/media/webload"
)

// TestCallsThroughGateway runs the generator for real: two users sign in with widget
// tickets at a `parkway gateway` process in front of two `parkway pool` processes, each
// calls SIPp (answering with its RTP echo) and every call must hear its own probes back
// through the gateway, none another call's. Nothing here is judged on time.
func TestCallsThroughGateway(t *testing.T) {
	r := startRig(t, 2, echoSIPp)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var windows []string
	res, err := webload.Run(ctx, webload.Config{
		Gateway: r.url, Users: users(2), Target: "erin", Steps: []int{1, 2},
		Warmup: 500 * time.Millisecond, Duration: time.Second, EmbedKey: r.embedKey,
		OnWindow: func(calls int, start bool) { windows = append(windows, webload.WindowLine(calls, start)) },
		Logf:     t.Logf,
	})
	if err != nil {
		t.Fatalf("webload: %v\ngateway:\n%s", err, r.gateway.output())
	}
	if res.Stopped || len(res.Steps) != 2 {
		t.Fatalf("want 2 steps measured, got %+v", res)
	}
	want := []string{webload.WindowLine(1, true), webload.WindowLine(1, false), webload.WindowLine(2, true), webload.WindowLine(2, false)}
	if len(windows) != len(want) {
		t.Fatalf("windows %q, want %q", windows, want)
	}
	for i := range want {
		if windows[i] != want[i] {
			t.Fatalf("windows %q, want %q", windows, want)
		}
		if n, start, ok := webload.ParseWindowLine(windows[i]); !ok || n != (i/2)+1 || start != (i%2 == 0) {
			t.Fatalf("ParseWindowLine(%q) = %d, %v, %v", windows[i], n, start, ok)
		}
	}
	for _, st := range res.Steps {
		t.Logf("%s", st.BenchmarkLine("calls"))
		if st.Sent == 0 || st.Echoed == 0 {
			t.Errorf("calls=%d: sent %d probes, %d echoed: no audio round trip through the gateway", st.Calls, st.Sent, st.Echoed)
		}
		if st.Silent != 0 || st.Misrouted != 0 || st.Ended != 0 {
			t.Errorf("calls=%d: %d calls heard no echo, %d echoes were another call's, %d calls ended", st.Calls, st.Silent, st.Misrouted, st.Ended)
		}
		if st.Echoed > st.Sent {
			t.Errorf("calls=%d: %d echoes of %d probes sent", st.Calls, st.Echoed, st.Sent)
		}
	}
}

func TestParseSteps(t *testing.T) {
	for in, ok := range map[string]bool{"100,200, 300": true, "5": true, "": false, "100,100": false, "200,100": false, "0": false, "x": false} {
		got, err := webload.ParseSteps(in)
		if (err == nil) != ok {
			t.Errorf("ParseSteps(%q) = %v, %v", in, got, err)
		}
	}
	if _, _, ok := webload.ParseWindowLine("webload: window start calls=x"); ok {
		t.Error("ParseWindowLine took a line without a number")
	}
}
