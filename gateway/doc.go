// Package gateway is Parkway's HTTP and websocket edge: it serves the embedded softphone
// (package assets), signs demo users in (POST /api/session, package auth), runs one
// session per browser tab on /ws, pushes the disaster-recovery state to every session as
// it changes, and mounts the admin API (package admin) beside them.
//
// Entry points: [New] builds a [Server] from a [Config]; [Server.Serve] runs it on a
// listener until its context ends, then closes every websocket with 1001 and a reason;
// [Server.Handler] is the same routes for tests and embedding; package configfile reads
// the YAML file `parkway gateway --config` takes into a [Config].
//
// The gateway is wired in one place (server.go) from two packages: package edge is the
// websocket edge — one session per tab, its reader and writer goroutines, the outbox,
// the fan-out of the DR state, the write watchdog, the protocol's auth, heartbeats and
// read limits — and knows nothing of calls; package phone is the phone — each user's
// SIP sign-in (Config.Registrar), their calls with one media leg each, and the parked
// list — and reaches the tabs only through edge.Session. The edge hands each
// authenticated session to the phone (edge.Phone) and every call frame to the user's
// calls (edge.Calls). The root keeps the HTTP routes, sign-in, widget tickets, host and
// origin checks and the config.
//
// The websocket protocol (messages in package signaling), in short: the first frame
// must be auth with a session token; then welcome (listing the user's live calls), the
// state, a call message for each of those calls and the parked list; then a state on
// every change, heartbeats both ways, an "error" for every bad frame, and call,
// answer, hang up, hold, park, retrieve, transfer and the rest checked with the
// capability rule and carried out by the phone. Package edge's comment has the
// session's side, package phone's the calls'.
//
// Widgets (tickets.go): a site embedding the widget has its backend ask for a ticket
// with the embed key (POST /api/tickets); the widget exchanges it, once, for an
// ordinary session token (POST /api/widget/session) and authenticates its websocket
// like the softphone. Neither travels in a URL.
package gateway
