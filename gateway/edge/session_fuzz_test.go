package edge

import (
	"log/slog"
	"testing"
	"time"

	"github.com/parkway/parkway/gateway/auth"
	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/signaling"
)

// FuzzHandle feeds arbitrary frames to an authenticated session and checks the promise
// the gateway makes for bad input: every frame except a pong gets exactly one answer,
// the answer is valid under the client's own contract (signaling.Decode FromGateway),
// and no frame ends the session.
func FuzzHandle(f *testing.F) {
	for _, seed := range []string{
		`{"v":1,"type":"ping","id":"1","data":{"seq":3}}`,
		`{"v":1,"type":"pong","data":{"seq":3}}`,
		`{"v":1,"type":"action","id":"x","data":{"action":"park","call":"c1"}}`,
		`{"v":1,"type":"action","id":"y","data":{"action":"call","target":"bob"}}`,
		`{"v":1,"type":"action","id":"z","data":{"action":"call","target":"bob","sdp":"v=0\r\n"}}`,
		`{"v":1,"type":"action","id":"w","data":{"action":"answer","call":"c1","sdp":"v=0\r\nm=audio 9 RTP/AVP 111\r\n"}}`,
		`{"v":1,"type":"auth","data":{"token":"pk1.a.b"}}`,
		`{"v":2,"type":"ping"}`, `{"v":1,"type":`, `null`, `[]`, "\xff",
	} {
		f.Add([]byte(seed))
	}
	signer, err := auth.NewSigner(nil)
	if err != nil {
		f.Fatal(err)
	}
	srv := New(Config{MaxSessions: 1, PeerTimeout: time.Second, Logger: slog.New(slog.DiscardHandler), Signer: signer}, dr.Snapshot{Phase: signaling.PhaseNormal})
	f.Cleanup(srv.Close)
	f.Fuzz(func(t *testing.T, frame []byte) {
		s := &Session{srv: srv, out: newOutbox(4), log: srv.log, calls: NoCalls{}}
		s.auth.Store(authOK)
		s.claims.User = "alice"
		if !s.handle(frame) {
			t.Fatalf("frame %q ended the session", frame)
		}
		var answers [][]byte
		for len(s.out.replies) > 0 {
			answers = append(answers, <-s.out.replies)
		}
		_, m, err := signaling.Decode(signaling.FromClient, frame)
		if _, isPong := m.(*signaling.Pong); err == nil && isPong {
			if len(answers) != 0 {
				t.Fatalf("a pong was answered: %q", answers)
			}
			return
		}
		if len(answers) != 1 {
			t.Fatalf("frame %q got %d answers", frame, len(answers))
		}
		if _, _, err := signaling.Decode(signaling.FromGateway, answers[0]); err != nil {
			t.Fatalf("answer %s to %q breaks the contract: %v", answers[0], frame, err)
		}
	})
}
