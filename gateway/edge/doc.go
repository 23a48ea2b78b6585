// Package edge is the gateway's websocket edge: one session per browser tab on /ws, the
// fan-out of the disaster-recovery state to every session, and the write watchdog. It
// knows nothing of calls: an authenticated session is handed to the Phone the gateway
// configured, and its call frames (action requests the capability rule allows, ICE
// candidates) go to the Calls that phone returned. The phone answers a tab through the
// Session it was handed (Reply, Offer, QueueState, Refocus).
//
// Entry points: [New] builds a [Server] from a [Config] and the current DR snapshot;
// [Server.Publish] takes each newer one; [Server.Accept] upgrades a request the caller
// has checked (method, origin) and serves the session until it ends; [Server.Close]
// ends every session with 1001 and waits for them; [ConnContext] lets the edge cut a
// stuck connection.
//
// Concurrency model. Each websocket session owns exactly two goroutines, both waited for
// before Accept returns: the handler goroutine reads frames (session.go) and a writer
// goroutine owns every write (writer.go) — replies, heartbeats and pushed state.
// Nothing else touches the connection. The writer takes work from an outbox (outbox.go):
// a bounded FIFO for replies, plus a single slot for the latest state that a newer state
// overwrites. The fan-out (hub.go) never blocks on a client: it encodes each distinct state
// once and drops it into every session's slot, so a slow or stalled browser only ever
// misses intermediate states, never delays anyone else. Rather than waking every
// writer, a few fan-out workers (fanout.go) write the state themselves to each session
// whose writer is idle, holding the session's write right (outbox.wmu) as the writer
// does, and ring the writer of the others; a worker stuck in a write is left to it and
// replaced, so a client that does not read delays a fan-out by milliseconds at most. A client that sends faster than
// it reads waits for its own reply queue, not anyone else's. One server goroutine, the
// write watchdog (watchdog.go), closes any session whose write has been stuck for the
// peer timeout; Close waits for it and for every session.
//
// Locks: hub.mu is taken by the phone's pushes (QueueState, Refocus) under the user's
// phone.out, and the hub calls Calls.Focus (the phone's mu) under hub.mu; outbox.wmu is
// taken with no other lock held (outbox.mu under it); outbox.mu and Server.mu are leaves. Package phone's comment has the whole order.
//
// The websocket protocol (messages in package signaling):
//   - The first frame must be auth with a session token, within Config.AuthTimeout
//     (default 5 s); otherwise the gateway sends error "unauthorized" and closes with 1008.
//   - Then the phone's greeting (Phone.Join): welcome (user, session id, heartbeatMs,
//     and the ids of the user's live calls), then the current state, then a call
//     message for each of those calls and the parked list; without a phone, the
//     welcome alone. Then a state on every change.
//   - Heartbeats both ways at the application level, because browsers cannot send
//     websocket pings: the gateway sends ping every Config.PingInterval (2 s) and closes a
//     peer it has heard nothing from for Config.PeerTimeout (6 s); it answers every client
//     ping with a pong echoing seq.
//   - Every bad frame gets an "error" message (Ref = the frame's id when it could be read)
//     and the session carries on; oversized frames are answered too (Session.readLoop
//     says how, up to Config.DrainLimit, 1 MiB, then 1009).
//   - An action request is checked with the capability rule (actions.go): "refused" with
//     the rule's reason, "no-call" for a call id that does not exist. An allowed one
//     goes to Calls.Act; without a phone (NoCalls) it is "unavailable".
package edge
