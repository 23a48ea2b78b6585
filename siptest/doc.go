// Package siptest is a SIP test phone for integration tests on loopback.
//
// A Phone is a real SIP user agent (github.com/emiago/sipgo) with its own UDP
// listener on 127.0.0.1 and real RTP: it sends a tone of a known frequency as
// paced 20 ms G.711 packets and analyses what it receives with the Goertzel
// algorithm, so a test can assert who hears whom.
//
// Entry points:
//
//	p := siptest.NewPhone(t, siptest.PhoneOptions{User: "alice", Password: "pw",
//	        Domain: "example.test", Proxy: poolAddr, ToneHz: 350})
//	p.Register(ctx, time.Minute)          // REGISTER with digest auth (RFC 3261 §10, §22)
//	c, err := p.Call(ctx, "sip:bob@example.test")  // INVITE/200/ACK, PCMU or PCMA
//	in := <-p.Incoming(); in.Answer(ctx)  // incoming INVITEs wait for Answer or Reject
//	c.Refer(ctx, "sip:park@example.test") // blind transfer (RFC 3515), waits for the sipfrag
//	next, _ := c.Successor(ctx)           // the call that continued this one (REFER followed,
//	                                      // or INVITE with Replaces accepted, RFC 3891)
//	c.Media().HeardTone(440)              // Goertzel on the last second of audio
//	sub, _ := p.Subscribe(ctx, uri, "dialog", time.Minute) // RFC 6665; sub.Notifies()
//	msg := <-p.Messages()                 // SIP MESSAGE (RFC 3428)
//	c.Reinvite(ctx)                       // session refresh with the same offer
//	c.Hangup(ctx)
//
// For SIPp (Debian's sip-tester) scenarios, [SIPpPath] finds sipp (a skip, or a
// failure under PARKWAY_REQUIRE_SIPP=1), [SIPpInjection] writes an injection file and
// [StartSIPp] runs one scenario in its own directory, collecting its output.
//
// Behaviour a test can rely on: a REFER received on a call is always accepted
// (202), followed with an INVITE to the Refer-To target carrying Referred-By
// and any embedded Replaces, and reported back with NOTIFY sipfrag (RFC 3515
// §2.4.4-2.4.5). An INVITE with Replaces that matches a call is answered
// automatically and the replaced call is ended with BYE (RFC 3891 §3).
// Errors for non-2xx final answers are *ResponseError carrying the response.
//
// Phones are UDP by default; Transport: "tcp" adds a TCP listener on the
// same port and sends over TCP. NoReplaces and NoRefer make a "plain" phone
// that lacks RFC 3891 or RFC 3515 (no "Supported: replaces", no REFER in
// Allow, 420/405 answers), to test the fallbacks servers need for them.
//
// When PhoneOptions.Domain is empty the phone's address of record is its own
// listener (sip:user@127.0.0.1:port), so tests without a registrar can route
// requests to it directly. Everything is torn down by t.Cleanup.
package siptest
