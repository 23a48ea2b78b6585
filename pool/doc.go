// Package pool is a Parkway SIP pool: one process-sized server that is the registrar, a
// transaction-stateful proxy and the health endpoint for its users, and that hosts the
// Call Park service (package park) behind it.
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
//	a user registered here             → that user's most recent contact (no forking)
//	an orbit of the paired pool        → the paired pool
//	any other user                     → the paired pool, unless it already saw the
//	                                     request; then 480 (known user) or 404
//
// Requests that reach the pool itself (no user part, or the pool's name): REGISTER is
// the registrar, OPTIONS the health probe (200 serving, 503 draining). INVITEs are not
// authenticated: the pool trusts its loopback network and authenticates registrations,
// which is what decides where calls are delivered.
//
// sipgo runs every message on a goroutine of its own; the requests of one dialog are
// nevertheless relayed in the order they were read (package sip/inorder, fed by the UDP
// read filter and the TCP framing), each released as soon as it has been sent on, and
// none overtakes a response of its dialog read before it (a NOTIFY its 202).
//
// One file per concept: registrar.go and bindings.go (RFC 3261 §10), digest.go and
// nonce.go (RFC 8760/7616 digest), proxy.go and route.go (RFC 3261 §16), health.go
// (OPTIONS), guard.go and framing.go (bad input and resource limits), config.go and
// configfile.go (the pool's settings).
package pool
