// Package park is a pool's Call Park application, modelled on Lync Server
// 2013's (CsCpsConfiguration, CsCallParkOrbit) and made to work with any
// SIP phone that can blind-transfer and dial.
//
// The service is a SIP user agent of its own (sipgo) with its own UDP+TCP
// listener. The pool's proxy forwards requests for sip:park@domain and for
// the pool's orbit numbers to it; nothing Record-Routes, so in-dialog
// requests go straight to the service's Contact and, once a call is
// retrieved, nothing of it passes through the pool or the park service
// (ARCHITECTURE.md §2 invariants).
//
// Entry points: New(Config, Options), Service.Start/Stop/Drain, Owns,
// Parked, Events. Config mirrors Lync's settings and is checked by Validate;
// Options are runtime (addresses, logger, test knobs).
//
// # Park (blind transfer to the park service, RFC 3515 + RFC 3892)
//
//	A (parker)            B (parked)            pool proxy        park service
//	   |  REFER Refer-To: sip:park@dom   |                |                 |
//	   |  (or sip:7005@dom = directed)   |                |                 |
//	   |-------------------------------->|                |                 |
//	   |<--------------- 202 ------------|                |                 |
//	   |                                 |-- INVITE sip:park@dom, Referred-By: A -->|
//	   |                                 |                |---------------->|  reserve orbit
//	   |                                 |<------ 200 (SDP, X-Parkway-Orbit: 7005) -|
//	   |                                 |------------------ ACK ---------->|
//	   |                                 |<====== RTP music on hold ========|  paced 20 ms G.711
//	   |<-- NOTIFY sipfrag 200 ----------|                |                 |
//	   |--- BYE ------------------------>|                |                 |
//	   |<------------- MESSAGE "Parked at 7005" (via proxy) ----------------|
//	   |                       NOTIFY (dialog / x-parkway-park) to subscribers
//
// An INVITE to an orbit that carries Referred-By is a park request (a
// directed park, which Lync cannot do and Asterisk can); one without is a
// retrieve. sip:park@ picks the lowest free orbit.
//
// Park also works the other way round, for parked parties that cannot
// follow a REFER: the parker sends an out-of-dialog REFER to sip:park@ (or
// an orbit) with Refer-To: <B?Replaces=A↔B>, and the park service INVITEs
// B with that Replaces (draft-procter-bliss-call-park-extension; ladder in
// refer.go). The 202 carries X-Parkway-Orbit, the NOTIFYs the outcome.
//
// # Retrieve (dial the orbit; REFER with Replaces, RFC 3891)
//
//	C (retriever)                      park service                   B (parked)
//	   |-- INVITE sip:7005@dom (via proxy) -->|                            |
//	   |<-------------- 200 (SDP) ------------|                            |
//	   |--------------- ACK ----------------->|                            |
//	   |                                      |-- REFER Refer-To: <C-contact?Replaces=
//	   |                                      |   C-call-id;to-tag=C;from-tag=park> -->|
//	   |                                      |<----------------- 202 -----------------|
//	   |<---------- INVITE Replaces: C↔park dialog (direct, no proxy) ------------------|
//	   |----------------------------------- 200 ---------------------------------------->|
//	   |<=================== RTP directly between B and C ==============================>|
//	   |--- BYE (replaced dialog) ----------->|                            |
//	   |                                      |<-- NOTIFY sipfrag 200 -----|
//	   |                                      |--- BYE ------------------->|  orbit free, event "retrieved"
//
// Why this flow: it needs nothing but REFER support from the parked party
// (which it already used to get parked) and Replaces support from the
// retriever; the retriever dials a plain number; and afterwards the park
// service holds no dialog and no media of the call. A 302 with an embedded
// Replaces would save a round trip but depends on the proxy passing 3xx
// upstream and on the retriever honouring headers in a Contact; we chose
// the path that works with plain phones.
//
// # Fallback for peers without REFER or Replaces: media bridging (RFC 3725)
//
// A retriever whose INVITE lacks "Supported: replaces" (SIPp, minimal
// phones) is not answered at once: the service re-INVITEs the parked party
// with the retriever's SDP and answers the retriever with the parked
// party's, so RTP flows directly between them:
//
//	C (retriever, no Replaces)          park service                B (parked)
//	   |-- INVITE sip:7005@dom ------------->|                            |
//	   |<-------------- 180 -----------------|-- re-INVITE (C's SDP) ----->|
//	   |                                     |<------- 200 (B's SDP) -----|
//	   |                                     |--------- ACK ------------->|  music stops
//	   |<------------ 200 (B's SDP) ---------|                            |
//	   |--- ACK ---------------------------->|                            |
//	   |<==================== RTP directly between B and C ==============>|
//	   |--- BYE ---------------------------->|--- BYE ------------------->|  relayed
//
// A parked party that cannot take a REFER (its Allow omits REFER, or it
// answers 405/501/403/420/489) is handled the same way with two re-INVITEs
// after the retriever was answered. In both cases the park service stays in
// the signalling path (it relays BYE) but not in the media path — the one
// documented exception to "the park service drops out of the path", traded
// for working with peers that implement neither RFC 3515 nor RFC 3891.
//
// # Timeout (ring-back, on-timeout URI, disconnect)
//
//	park service                         A (parker)               B (parked)
//	   | pickup timeout fires                |                        |
//	   |-- INVITE (From: "Parked call 7005") ->|  × MaxPickupAttempts  |
//	   |   unanswered after RingTimeout: CANCEL; answered: connect A and B
//	   |   exactly as a retrieve (REFER B to A with Replaces)          |
//	   |-- then INVITE OnTimeoutURI, same handling                      |
//	   |-- BYE, Reason: SIP;cause=408;text="Park time expired" -------->|  event "timed-out"
//
// A retriever who dials the orbit while it rings back wins: the ring-back is
// cancelled (if the parker's phone has not answered 180 yet, as soon as it
// does: no CANCEL before a provisional response, RFC 3261 §9.1). Every state change — parked, ringing-back, retrieved,
// timed-out, disconnected — is an Event (Service.Events) and a NOTIFY to
// SUBSCRIBE dialogs (RFC 6665): Event: dialog (RFC 4235, one <dialog> per
// parked call, state confirmed) on sip:<orbit>@dom for BLF keys or on
// sip:park@dom for all orbits, and Event: x-parkway-park on sip:park@dom
// with a JSON PublishedPark body for the gateway.
//
// # Answers
//
// Failures are *Error values that carry their SIP status, an
// ms-diagnostics-style code and text (also in Warning), e.g.
//
//	orbit not found       404  13001
//	no orbit available    480  13002
//	double park           486  13003
//	park time expired     408  13004 (Reason on the BYE)
//	pool draining         503  13005 + Retry-After: 30
//	no G.711 offered      488  13006
//
// # Concurrency
//
// Service.mu guards the running state: orbit table, dialogs (legs),
// subscriptions and every parked call's fields. Each parked call has one
// goroutine running its select loop (parked.go), the only one acting on its
// dialogs; each subscription one goroutine sending its NOTIFYs in order. All
// belong to the run's WaitGroup, which Stop waits for after closing the
// sockets. Stop is deliberately abrupt — no BYE, no NOTIFY — because the
// pool-failure scenarios must look like a crash to the peers.
//
// sipgo runs every message on a goroutine of its own, so the in-dialog
// requests of one dialog wait for their turn (package inorder, fed by the
// UDP read filter in arrival order): an ACK is acted on before the BYE sent
// right after it.
package park
