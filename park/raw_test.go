package park

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/park/parkwire"
)

// rawUDP speaks hand-written SIP to the service, for malformed input.
type rawUDP struct {
	conn *net.UDPConn
	dst  *net.UDPAddr
}

func newRawUDP(t *testing.T, addr string) *rawUDP {
	dst, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawUDP{conn: c, dst: dst}
}

func (r *rawUDP) send(t *testing.T, msg string) {
	if _, err := r.conn.WriteToUDP([]byte(msg), r.dst); err != nil {
		t.Fatal(err)
	}
}

// roundTrip sends msg (if any) and returns the next datagram that is not a
// 1xx response.
func (r *rawUDP) roundTrip(t *testing.T, ctx context.Context, msg string) string {
	t.Helper()
	if msg != "" {
		r.send(t, msg)
	}
	buf := make([]byte, 65535)
	for {
		dl, _ := ctx.Deadline()
		r.conn.SetReadDeadline(dl)
		n, _, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no answer to %q: %v", firstLine(msg), err)
		}
		res := string(buf[:n])
		if strings.HasPrefix(res, "SIP/2.0 1") {
			continue
		}
		return res
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\r\n"); return l }

func inviteText(r *rawUDP, user, host, extra, body string) string {
	return requestText(r, "INVITE", user, host, extra, body)
}

func requestText(r *rawUDP, method, user, host, extra, body string) string {
	la := r.conn.LocalAddr().String()
	branch := fmt.Sprintf("z9hG4bK%x", rand.Uint64())
	return fmt.Sprintf("%s sip:%s@%s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=%s\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:raw@127.0.0.1>;tag=%x\r\n"+
		"To: <sip:%s@%s>\r\n"+
		"Call-ID: %x@raw\r\n"+
		"CSeq: 1 %s\r\n"+
		"Contact: <sip:raw@%s>\r\n"+
		"%s"+
		"Content-Length: %d\r\n\r\n%s",
		method, user, host, la, branch, rand.Uint64(), user, host, rand.Uint64(), method, la, extra, len(body), body)
}

// TestMalformedInput throws broken SIP at both transports and checks the
// answers the RFCs ask for, then that the service still parks calls.
func TestMalformedInput(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	raw := newRawUDP(t, s.Addr())

	// Unparseable datagrams are dropped (RFC 3261 §18.3 gives no one to
	// answer when the Via cannot be read).
	raw.send(t, "\x00\x01garbage\r\n\r\n")
	raw.send(t, "INVITE sip:park@x SIP/2.0\r\nVia: broken\r\n\r\n")
	raw.send(t, strings.Repeat("A", 60000))

	// Parseable but unacceptable requests get their answers.
	for _, tc := range []struct {
		name, msg, want string
	}{
		{"bad SDP", inviteText(raw, "park", s.Addr(), "Content-Type: application/sdp\r\nReferred-By: <sip:a@127.0.0.1>\r\n", "not sdp"), "SIP/2.0 488"},
		{"bad Expires", requestText(raw, "SUBSCRIBE", "7000", s.Addr(), "Event: dialog\r\nExpires: soon\r\n", ""), "SIP/2.0 400"},
		{"no Event", requestText(raw, "SUBSCRIBE", "7000", s.Addr(), "", ""), "SIP/2.0 400"},
		{"bad event package", requestText(raw, "SUBSCRIBE", "7000", s.Addr(), "Event: presence\r\n", ""), "SIP/2.0 489"},
		{"unknown method", requestText(raw, "PUBLISH", "7000", s.Addr(), "", ""), "SIP/2.0 405"},
		{"stray BYE", requestText(raw, "BYE", "7000", s.Addr(), "", ""), "SIP/2.0 481"},
		{"stray NOTIFY", requestText(raw, "NOTIFY", "park", s.Addr(), "Event: refer\r\nContent-Type: message/sipfrag\r\n", "SIP/2.0 200 OK\r\n"), "SIP/2.0 481"},
	} {
		if res := raw.roundTrip(t, ctx, tc.msg); !strings.HasPrefix(res, tc.want) {
			t.Errorf("%s: answered %q, want %s", tc.name, firstLine(res), tc.want)
		}
	}

	// TCP: garbage closes that connection only.
	c, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "NOT SIP AT ALL\r\n\r\n%s", strings.Repeat("x", 10000))
	c.Close()

	// Everyone else is still served.
	p := newParties(t)
	if _, err := parkBob(t, ctx, p, uri(s, parkwire.ParkUser)); err != nil {
		t.Fatal(err)
	}
}
