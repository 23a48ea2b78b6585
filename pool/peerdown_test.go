package pool

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestPeerDown: with its peer dead (pool-a stopped during a failover), pool-b answers a
// call to a user it does not know 404 and one to its own unregistered user 480 after
// Options.PeerTimeout, instead of waiting for Timer B on the dead peer and answering
// 408 — the call stays "dialing" no longer than that.
func TestPeerDown(t *testing.T) {
	pa, pb := startPair(t)
	pa.Stop()
	u := newRawUA(t)
	host, port, _ := sip.ParseAddr(pb.Addr())
	for _, c := range []struct {
		method sip.RequestMethod
		user   string
		want   int
	}{
		{sip.INVITE, "zed", 404},
		{sip.INVITE, "dave", 480},
	} {
		req := sip.NewRequest(c.method, sip.Uri{Scheme: "sip", User: c.user, Host: host, Port: port})
		if c.method == sip.INVITE {
			req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
			req.SetBody([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"))
		}
		start := time.Now()
		res, err := u.client.Do(testCtx(t), req)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.user, err)
		}
		t.Logf("%s %s: %d after %v", c.method, c.user, res.StatusCode, time.Since(start).Round(time.Millisecond))
		if res.StatusCode != c.want {
			t.Errorf("%s %s with the peer down = %d %s, want %d", c.method, c.user, res.StatusCode, res.Reason, c.want)
		}
	}
}
