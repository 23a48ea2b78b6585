package park

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzServiceRequests sends a running service requests whose method,
// Request-URI user and the header values and bodies our handlers interpret
// are fuzzed, and checks after each that the service still answers
// OPTIONS; a panic in a handler would crash the fuzzer. Every address in
// the messages is fixed to 127.0.0.1 (fuzzed values may not contain
// characters that could name another host), so nothing the service sends
// in reaction can leave the machine.
func FuzzServiceRequests(f *testing.F) {
	// Short timers and few subscriptions keep the state fuzzing piles up
	// (parked calls, subscribers that never answer NOTIFY) from slowing
	// the service down until the fuzzer thinks it hung.
	s, err := New(defaultConfig(), Options{RingTimeout: 100 * time.Millisecond,
		TestPickupTimeout: 200 * time.Millisecond, MaxSubscriptions: 16})
	if err != nil {
		f.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Stop() })
	dst, _ := net.ResolveUDPAddr("udp", s.Addr())
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { conn.Close() })
	raw := &rawUDP{conn: conn, dst: dst}
	methods := []string{"INVITE", "SUBSCRIBE", "REFER", "NOTIFY", "BYE", "ACK", "CANCEL", "MESSAGE"}

	f.Add(uint8(0), "park", "", "", "", "alice", "a;to-tag=1;from-tag=2", "0 8", "SIP/2.0 200 OK")
	f.Add(uint8(0), "7001", "", "", "replaces", "", "", "0", "")
	f.Add(uint8(1), "park", "x-parkway-park", "0", "", "", "", "", "")
	f.Add(uint8(1), "7000", "dialog;id=3", "5", "", "", "", "", "")
	f.Add(uint8(2), "7002", "", "", "", "bob", "c;to-tag=x;from-tag=y;early-only", "", "")
	f.Add(uint8(3), "park", "refer", "", "", "", "", "", "SIP/2.0 486 Busy")
	f.Fuzz(func(t *testing.T, m uint8, user, event, expires, supported, refBy, replaces, formats, body string) {
		for _, v := range []string{user, event, expires, supported, refBy, replaces, formats} {
			if !safe(v) {
				return
			}
		}
		if strings.ContainsAny(body, ":@<>[]") || len(body) > 500 {
			return
		}
		method := methods[int(m)%len(methods)]
		var h strings.Builder
		if event != "" {
			h.WriteString("Event: " + event + "\r\n")
		}
		if expires != "" {
			h.WriteString("Expires: " + expires + "\r\n")
		}
		if supported != "" {
			h.WriteString("Supported: " + supported + "\r\n")
		}
		if refBy != "" {
			h.WriteString("Referred-By: <sip:" + refBy + "@127.0.0.1:9>\r\n") // discard port
		}
		if replaces != "" {
			h.WriteString("Refer-To: <sip:b@127.0.0.1:9?Replaces=" + url.QueryEscape(replaces) + ">\r\n")
			h.WriteString("Replaces: " + replaces + "\r\n")
		}
		payload := body
		if method == "INVITE" {
			h.WriteString("Content-Type: application/sdp\r\n")
			payload = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP " + formats + "\r\n"
		} else if body != "" {
			h.WriteString("Content-Type: message/sipfrag\r\n")
		}
		raw.send(t, requestText(raw, method, user, s.Addr(), h.String(), payload))
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second) // under the fuzzer's 10 s hang limit
		defer cancel()
		res := raw.roundTrip(t, ctx, requestText(raw, "OPTIONS", "park", s.Addr(), "", ""))
		for !strings.HasPrefix(res, "SIP/2.0 200") || !strings.Contains(res, " OPTIONS\r\n") {
			res = raw.roundTrip(t, ctx, "") // answers to the fuzzed request may come first
		}
	})
}

// safe admits header values that cannot break out of their header or name
// a host: printable ASCII without separators of lines, URIs or addresses.
func safe(v string) bool {
	if len(v) > 200 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c > 0x7e || strings.IndexByte(":@<>[]?%\\\"", c) >= 0 {
			return false
		}
	}
	return true
}
