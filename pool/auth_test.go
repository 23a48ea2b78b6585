package pool

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// challengeNonce sends an unauthenticated REGISTER and returns the nonce of the (MD5)
// challenge.
func challengeNonce(t *testing.T, u *rawUA, p *Pool) string {
	t.Helper()
	res, err := u.client.Do(testCtx(t), registerReq(p, "alice", "<sip:alice@127.0.0.1:40001>", 120))
	if err != nil || res.StatusCode != 401 {
		t.Fatalf("REGISTER without credentials = %v %v, want 401", res, err)
	}
	m := regexp.MustCompile(`nonce="([^"]+)"`).FindStringSubmatch(res.GetHeader("WWW-Authenticate").Value())
	if m == nil {
		t.Fatalf("challenge without nonce: %v", res.GetHeader("WWW-Authenticate"))
	}
	return m[1]
}

// authorizedRegister is a REGISTER for alice carrying an MD5 answer computed with the
// right password for uri, nonce and nc (qop=auth; no qop when nc is "").
func authorizedRegister(p *Pool, uri, nonce, nc string) *sip.Request {
	req := registerReq(p, "alice", "<sip:alice@127.0.0.1:40001>", 120)
	if uri == "" {
		uri = req.Recipient.String()
	}
	c := digestCredentials{Username: "alice", Realm: p.Domain(), Nonce: nonce, URI: uri, Algorithm: "MD5"}
	if nc != "" {
		c.QOP, c.NC, c.CNonce = "auth", nc, "c0ffee"
	}
	c.Response, _ = digestExpected(c, "REGISTER", User{Name: "alice", Password: "alice-pw"})
	v := fmt.Sprintf(`Digest username="alice", realm=%q, nonce=%q, uri=%q, response=%q, algorithm=MD5`, c.Realm, nonce, uri, c.Response)
	if nc != "" {
		v += fmt.Sprintf(`, qop=auth, nc=%s, cnonce="c0ffee"`, nc)
	}
	req.AppendHeader(sip.NewHeader("Authorization", v))
	return req
}

func md5Pool(t *testing.T) *Pool {
	cfg := testConfig("pool-a", Range{Start: "7000", End: "7099"})
	cfg.DigestAlgorithms = []string{"MD5"}
	return startPool(t, cfg, Options{})
}

// TestDigestURIMustMatchRequestURI: an answer computed for another URI is a 400 (RFC
// 2617 §3.2.2.5, RFC 7616 §3.4.6), even when it is a correct answer for that URI.
func TestDigestURIMustMatchRequestURI(t *testing.T) {
	p := md5Pool(t)
	u := newRawUA(t)
	ctx := testCtx(t)
	nonce := challengeNonce(t, u, p)
	res, err := u.client.Do(ctx, authorizedRegister(p, "sip:127.0.0.1:9", nonce, "00000001"))
	if err != nil || res.StatusCode != 400 {
		t.Fatalf("answer for another uri = %v %v, want 400", res, err)
	}
	res, err = u.client.Do(ctx, authorizedRegister(p, "", nonce, "00000002"))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("answer for the Request-URI = %v %v, want 200", res, err)
	}
}

func TestDigestURIMatches(t *testing.T) {
	var req sip.Uri
	if err := sip.ParseUri("sip:127.0.0.1:5070;transport=udp", &req); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		uri  string
		want bool
	}{
		{"sip:127.0.0.1:5070;transport=udp", true},
		{"sip:127.0.0.1:5070", true},                // transport in one only: ignored (§19.1.4)
		{"SIP:127.0.0.1:5070;transport=UDP", true},  // scheme and parameter case
		{"sip:127.0.0.1:5070;transport=tcp", false}, // in both, different
		{"sip:127.0.0.1", false},                    // default port omitted ≠ explicit port
		{"sip:127.0.0.1:5071", false},
		{"sip:alice@127.0.0.1:5070", false},
		{"sip:127.0.0.1:5070;maddr=127.0.0.2", false}, // maddr in one only never matches
		{"not a uri", false},
	} {
		if got := digestURIMatches(c.uri, req); got != c.want {
			t.Errorf("digestURIMatches(%q, %s) = %v, want %v", c.uri, req.String(), got, c.want)
		}
	}
}

// TestDigestNonceCountReplay: a nonce-count already used with a nonce is refused with a
// stale challenge (so an honest phone retries with a new nonce), a new one is accepted
// even out of order within 64 of the highest, and a nonce used without qop is good for
// one request only.
func TestDigestNonceCountReplay(t *testing.T) {
	p := md5Pool(t)
	u := newRawUA(t)
	ctx := testCtx(t)
	nonce := challengeNonce(t, u, p)
	for i, step := range []struct {
		nc    string
		stale bool
	}{
		{"00000001", false},
		{"00000001", true}, // the same Authorization again: a replay
		{"00000003", false},
		{"00000002", false}, // late, as concurrent requests may be, but new
		{"00000002", true},
		{"00000003", true},
		{"00000050", false},
		{"00000004", true}, // more than 64 below the highest: too old to tell
		{"00000010", false},
		{"00000010", true},
	} {
		res, err := u.client.Do(ctx, authorizedRegister(p, "", nonce, step.nc))
		if err != nil {
			t.Fatal(err)
		}
		if !step.stale && res.StatusCode != 200 {
			t.Fatalf("step %d: nc %s = %d, want 200", i, step.nc, res.StatusCode)
		}
		if step.stale && (res.StatusCode != 401 || !strings.Contains(res.GetHeader("WWW-Authenticate").Value(), "stale=true")) {
			t.Fatalf("step %d: replayed nc %s = %d, want 401 stale=true", i, step.nc, res.StatusCode)
		}
	}
	// RFC 2069 style, no qop: one use per nonce.
	nonce = challengeNonce(t, u, p)
	if res, err := u.client.Do(ctx, authorizedRegister(p, "", nonce, "")); err != nil || res.StatusCode != 200 {
		t.Fatalf("first use without qop = %v %v, want 200", res, err)
	}
	if res, err := u.client.Do(ctx, authorizedRegister(p, "", nonce, "")); err != nil || res.StatusCode != 401 {
		t.Fatalf("second use without qop = %v %v, want 401", res, err)
	}
}

// TestNonceCountsBounded: the replay table holds at most maxCounts nonces; a nonce it
// had to forget while fresh stays refused, and expired nonces leave the table.
func TestNonceCountsBounded(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	n := newNonces("pool-a", time.Minute, clock.Now)
	n.maxCounts = 2
	var issued []string
	for i := 0; i < 3; i++ {
		issued = append(issued, n.issue())
		clock.Advance(time.Second)
	}
	for _, nonce := range issued {
		if !n.use(nonce, 1, true) {
			t.Fatalf("first use of %s refused", nonce)
		}
	}
	if len(n.counts) != 2 {
		t.Fatalf("table holds %d nonces, want 2", len(n.counts))
	}
	if n.use(issued[0], 2, true) {
		t.Fatal("a forgotten fresh nonce was accepted again")
	}
	if !n.use(issued[2], 2, true) {
		t.Fatal("a remembered nonce refused a higher nc")
	}
	clock.Advance(2 * time.Minute)
	if k := n.expire(); k != 2 || len(n.counts) != 0 {
		t.Fatalf("expire removed %d, %d left; want 2, 0", k, len(n.counts))
	}
	if n.use(issued[2], 3, true) {
		t.Fatal("an expired nonce was accepted")
	}
}
