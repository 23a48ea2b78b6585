package edge

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Frames written as textFrame bytes on the connection the upgrade handed over (with its
// Write, or with the fan-out's direct send: rawWire) arrive
// as whole text messages, in order with the library's own, whatever their length
// class (7-bit, 16-bit, 64-bit), while the library answers the client's pings from
// its reader at the same time.
func TestWireFramesInterleaveWithTheLibrarysWrites(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 300, 65535, 65536, 70000}
	var want [][]byte
	for i, n := range sizes {
		want = append(want, bytes.Repeat([]byte{'a' + byte(i)}, n))
	}
	const rounds = 20
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &hijackRecorder{ResponseWriter: w}
		conn, err := websocket.Accept(rec, r, nil)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer conn.CloseNow()
		ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
		defer cancel()
		go func() { // the reader answers pings (with pongs) until the client closes
			for {
				if _, _, err := conn.Read(ctx); err != nil {
					return
				}
			}
		}()
		if rec.conn == nil {
			t.Error("the recorder did not see the hijack")
			return
		}
		raw := newRawWire(rec.conn) // the fan-out's direct send (rawwire_linux.go), nil elsewhere
		for range rounds {
			for i, p := range want {
				if i%4 == 0 && raw != nil {
					if err := raw.write(textFrame(p)); err != nil {
						t.Errorf("direct send: %v", err)
						return
					}
				} else if i%2 == 0 {
					if _, err := rec.conn.Write(textFrame(p)); err != nil {
						t.Errorf("raw write: %v", err)
						return
					}
				} else if err := conn.Write(ctx, websocket.MessageText, p); err != nil {
					t.Errorf("library write: %v", err)
					return
				}
			}
		}
		<-ctx.Done()
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	var pings sync.WaitGroup
	pingCtx, stopPings := context.WithCancel(ctx)
	pings.Go(func() {
		for pingCtx.Err() == nil {
			c.Ping(pingCtx) // answered by the server's reader between our frames
		}
	})
	// Ping needs a reader on this side too: the loop below is it.
	for r := range rounds {
		for i, p := range want {
			typ, got, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("round %d, frame %d (%d bytes): %v", r, i, len(p), err)
			}
			if typ != websocket.MessageText || !bytes.Equal(got, p) {
				t.Fatalf("round %d, frame %d: got %v of %d bytes, want text of %d", r, i, typ, len(got), len(p))
			}
		}
	}
	stopPings()
	go func() { // unblock a Ping waiting for its pong
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	}()
	pings.Wait()
	c.Close(websocket.StatusNormalClosure, "")
}

func TestTextFrameHeader(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, "81 00"}, {125, "81 7d"}, {126, "81 7e 00 7e"}, {65535, "81 7e ff ff"}, {65536, "81 7f 00 00 00 00 00 01 00 00"},
	} {
		f := textFrame(make([]byte, tc.n))
		hdr := len(f) - tc.n
		if got := fmt.Sprintf("% x", f[:hdr]); got != tc.want {
			t.Errorf("%d bytes: header %s, want %s", tc.n, got, tc.want)
		}
	}
}
