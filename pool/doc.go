// Package pool is a Parkway SIP pool: one process-sized server that is the registrar, a
// proxy (transaction-stateful, stateless for the plain in-dialog requests read over UDP)
// and the health endpoint for its users, and that hosts the Call Park service (package
// park) behind it.
//
// Entry points: [Config] describes a pool (its YAML form is parsed by [ParseConfig]),
// [New] builds a [Pool], and [Pool.Start], [Pool.Stop] and [Pool.Drain] run it.
// [DemoConfigs] returns the two demo pools, pool-a and pool-b, each the other's peer.
//
// The pool never inserts Record-Route: once a dialog is established its requests flow
// end to end, so a pool failure cannot break a call that is already connected
// (ARCHITECTURE.md §2 invariants). Requests are routed by Request-URI user:
//
//	"park" or an orbit of this pool    → the pool's park service
//	a user registered here             → that user's most recent contact; an INVITE
//	                                     starting a dialog with a user who has several
//	                                     contacts forks to all of them (fork.go)
//	an orbit of the paired pool        → the paired pool
//	any other user                     → the paired pool, unless it already saw the
//	                                     request; then 480 (known user) or 404
//
// Requests that reach the pool itself (no user part, or the pool's name): REGISTER is
// the registrar, OPTIONS the health probe (200 serving, 503 draining).
//
// Secure by default (issue #13; trust.go, limits.go, auth.go):
//
//   - No open relay. A Route header naming someone else (RFC 3261 §16.4) is followed
//     only to the peer pool, this pool's park service or a registered contact; any
//     other address or a hostname gets 403 with a Warning saying why. The Request-URI
//     only ever leads to those three (the table above).
//   - Calls are authenticated. A request starting a dialog or standing alone whose From
//     names one of this pool's users must carry Proxy-Authorization (407 challenge,
//     answered by gateway/ua and siptest phones); a password for another user is 403.
//     Config.UnauthenticatedCalls (YAML "authenticateCalls: false") turns this off, and
//     the pool logs a warning at start. The peer pool and the park service are elements,
//     not users: they are recognised by the address a request comes from — over UDP the
//     exact configured peer.addr or park listener, over TCP its IP plus a top Via naming
//     that address — never by a header alone, and are neither challenged nor flood-limited.
//   - Digest failures are throttled per source IP and user name: the n-th failure within
//     Options.AuthFailureWindow (1 min) is answered after AuthFailureDelay·2ⁿ⁻¹ (0.2 s,
//     0.4 s, …), and the AuthFailureLimit-th (5th) locks that user out from that address
//     for AuthLockout (60 s): every answer then is a 403 with a Warning after 3.2 s, even
//     for the right password. Other users and other addresses are unaffected; a success
//     clears the count.
//   - Floods are refused per source IP: a token bucket (Config.FloodLimit, default 500 a
//     second with bursts of 1,000) covers every request but OPTIONS, ACK and CANCEL; the
//     excess gets 503 with Retry-After (the time the bucket takes to refill) — over UDP
//     statelessly from the read loop, so a flood builds no transactions. OPTIONS stay
//     exempt so health probes see the pool serving through a flood. Beyond that,
//     Options.MaxInFlight answers 503 when the pool as a whole is overloaded (never to a
//     request inside a dialog, an ACK or a CANCEL: they finish calls already taken).
//   - SIP over TLS (tls.go; Config.TLS, Peer.Transport): a TLS listener beside UDP/TCP
//     for the gateway and the peer pool, the peer's certificate verified against the
//     configured CA; what the pool relays to the peer over TLS carries a Via naming its
//     own TLS listener, so the peer's element check above still applies.
//   - Users may be stored as digest HA1 hashes (User.HA1, usersFile; internal/usersfile)
//     for Config.Realm; a pool with hashed users challenges with MD5 alone.
//
// sipgo runs every message on a goroutine of its own; the requests of one dialog are
// nevertheless relayed in the order they were read (package sip/inorder, fed by the UDP
// read filter and the TCP framing), each released as soon as it has been sent on, and
// none overtakes a response of its dialog read before it (a NOTIFY its 202).
//
// In-dialog requests over UDP are relayed statelessly (stateless.go, RFC 3261 §16.11,
// issue #12): an ACK, BYE, NOTIFY, REFER and the like, read when nothing of its dialog
// is in flight (inorder.Queue.Pass), goes on from the read filter's goroutine as bytes —
// Max-Forwards decremented, received/rport in the sender's Via, our Via with a branch
// hashed from the request's own, the Request-URI retargeted to the contact — and its
// answers go back by the next Via the same way; a final answer is kept, as for the
// pool's own transactions, to answer a retransmission. No sipgo parse, transaction or
// goroutine for three in four requests of a park cycle. What stateless relaying gives up
// is the pool's own 408/503 when the far end is silent or unreachable (the phone's
// transaction times out instead). INVITE, CANCEL, a Route, Proxy-Require or park time,
// no hops left, one of our own Vias (loop check), TCP/TLS, the peer pool and an ACK of a
// non-2xx answer take the stateful path.
//
// Forking (fork.go, RFC 3261 §16.6–16.7): a user whose tabs sit on two gateways holds
// one binding per gateway Contact, and a call rings them all in parallel. The first 2xx
// goes to the caller and the other branches are CANCELled (Reason: "Call completed
// elsewhere", RFC 3326); a 6xx ends the fork; when every branch fails the best answer
// goes upstream (lowest class, a phone's own decision such as 486 before a timeout); the
// caller's CANCEL and Timer C reach every branch — a CANCEL is watched for from before
// the 100 Trying, so one that comes while the branches are being sent is not lost, and an
// INVITE cancelled before it went anywhere is not sent on. The park service's ring-backs and
// calls to transfer targets come through this proxy too, so they fork alike. Other
// methods, requests inside a dialog and users with one binding take the newest contact.
//
// Transactions end at their final answer over UDP (earlyend.go, issue #12): the 32 s a
// server transaction would be kept after it (Timer J, and Timer L after an INVITE's 2xx)
// only serve retransmissions, which the read filter answers from the final answer's bytes
// (a non-INVITE) or absorbs (an INVITE answered 2xx); an INVITE answered otherwise keeps
// its transaction for its ACK. Such a final answer is built once and sent from the pool's
// socket by its Via, not through the transaction. The client transaction of an INVITE
// relayed 2xx is ended and emptied at once (releaseAccepted). What a park cycle leaves on
// the heap for 32 s went from ≈ 58 KB to ≈ 25 KB (pool/BENCHMARKS.md).
//
// One file per concept: registrar.go and bindings.go (RFC 3261 §10), digest.go and
// nonce.go (RFC 8760/7616 digest), proxy.go, route.go, fork.go, earlyend.go and stateless.go (RFC 3261 §16–17), health.go
// (OPTIONS), guard.go and framing.go (bad input and resource limits), trust.go (who is
// trusted, where a Route may lead) and limits.go (flood gate, digest throttle), tls.go
// (the TLS listener), config.go and configfile.go (the pool's settings).
package pool
