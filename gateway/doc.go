// Package gateway is Parkway's HTTP and websocket edge: it serves the embedded softphone
// (package assets), signs demo users in (POST /api/session, package auth), runs one
// session per browser tab on /ws, pushes the disaster-recovery state to every session as
// it changes, and mounts the admin API (package admin) beside them.
//
// Entry points: [New] builds a [Server] from a [Config]; [Server.Serve] runs it on a
// listener until its context ends, then closes every websocket with 1001 and a reason;
// [Server.Handler] is the same routes for tests and embedding; [LoadConfig] reads the
// YAML file `parkway gateway --config` takes.
//
// Concurrency model. Each websocket session owns exactly two goroutines, both waited for
// before the HTTP handler returns: the handler goroutine reads frames (session.go) and a
// writer goroutine owns every write (writer.go) — replies, heartbeats and pushed state.
// Nothing else touches the connection. The writer takes work from an outbox (outbox.go):
// a bounded FIFO for replies, plus a single slot for the latest state that a newer state
// overwrites. The fan-out (hub.go) never blocks on a client: it encodes each distinct state
// once and drops it into every session's slot, so a slow or stalled browser only ever
// misses intermediate states, never delays anyone else. A client that sends faster than
// it reads waits for its own reply queue, not anyone else's. One server goroutine, the
// write watchdog (watchdog.go), closes any session whose write has been stuck for the
// peer timeout; Close waits for it and for every session.
//
// The websocket protocol (messages in package signaling):
//   - The first frame must be auth with a session token, within Config.AuthTimeout
//     (default 5 s); otherwise the gateway sends error "unauthorized" and closes with 1008.
//   - Then welcome (user, session id, heartbeatMs, and the ids of the user's live
//     calls), then the current state, then a call message for each of those calls and
//     the parked list (calls.go): a tab that reconnects keeps the listed calls and
//     ends the others at once. A closed websocket never ends a call; only the
//     sign-out grace after the user's last tab does. Then a state on every change.
//   - Heartbeats both ways at the application level, because browsers cannot send
//     websocket pings: the gateway sends ping every Config.PingInterval (2 s) and closes a
//     peer it has heard nothing from for Config.PeerTimeout (6 s); it answers every client
//     ping with a pong echoing seq.
//   - Every bad frame gets an "error" message (Ref = the frame's id when it could be read)
//     and the session carries on; oversized frames are answered too (session.readLoop
//     says how, up to Config.DrainLimit, 1 MiB, then 1009).
//   - With Config.Registrar set, an authenticated session signs its user in to SIP (a
//     REGISTER at the active pool, in the background) and the user's last session
//     ending signs them out after Config.SignOutGrace (10 s), so a reload does not churn
//     registrations (registrations.go). A failed sign-in is an "unavailable" error to
//     the client and is retried with backoff; the session carries on regardless.
//   - An action request is checked with the capability rule (actions.go): "refused" with
//     the rule's reason, "no-call" for a call id that does not exist. Without
//     Config.SIP and Config.Media an allowed action is "unavailable". With them
//     (calls.go), call, answer, decline, hang up, hold, resume, mute (the bridge drops
//     the tab's audio), park, retrieve and transfer — blind, or attended: a REFER with
//     Replaces naming the consult call — run through the user's ua.User with one
//     media.Leg per call. Call, answer and retrieve carry the browser's SDP offer: one
//     with candidates is answered with all of the gateway's, one without is answered at
//     once and both sides trickle "ice" messages named by the action's id (callmedia.go);
//     candidates for an action already refused or a call already ended are dropped. The
//     answer comes back in a "call" message carrying the request's id, and every change
//     of every call goes to each of the user's tabs as a "call" message, its peer a user
//     name or number; the newest live call is the focus the pushed capabilities are
//     computed for. An offer without G.711 gets "no-g711", a call to an unknown user
//     "not-found".
//   - The parked list (parked.go): one subscription to each pool's park service, merged
//     (each call names its pool) and pushed as "parked" to every tab on each change; a
//     pool's calls leave the list at once when that pool fails, and a call parked on the
//     backup stays listed through failback.
//
// Widgets (tickets.go): a site embedding the widget has its backend ask for a ticket
// with the embed key (POST /api/tickets); the widget exchanges it, once, for an
// ordinary session token (POST /api/widget/session) and authenticates its websocket
// like the softphone. Neither travels in a URL.
package gateway
