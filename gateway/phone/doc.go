// Package phone is the gateway's phone: it signs each user with a websocket session in
// to SIP (registrations.go) and carries their calls between their browser tabs and
// their SIP user agents (calls.go): one media.Leg per call (the browser's
// PeerConnection wired to an RTP bridge, callmedia.go), the ua.Call on the SIP side, and
// every state change pushed to each of the user's tabs. It reaches the tabs only
// through package edge: a [Service] is the gateway's edge.Phone, and each user's phone
// the edge.Calls of that user's sessions.
//
// Sign-in. An authenticated session signs its user in to SIP (a REGISTER at the active
// pool, in the background) and the user's last session ending signs them out after
// Config.SignOutGrace (10 s), so a reload does not churn registrations. A failed
// sign-in is an "unavailable" error to the client and is retried with backoff; the
// session carries on regardless.
//
// Calls. With Config.SIP and Config.Media, call, answer, decline, hang up, hold,
// resume, mute (the bridge drops the tab's audio), park, retrieve and transfer — blind,
// or attended: a REFER with Replaces naming the consult call — run through the user's
// ua.User with one media.Leg per call. Call, answer and retrieve carry the browser's
// SDP offer: one with candidates is answered with all of the gateway's, one without is
// answered at once and both sides trickle "ice" messages named by the action's id
// (callmedia.go); candidates for an action already refused or a call already ended are
// dropped. The answer comes back in a "call" message carrying the request's id, and
// every change of every call goes to each of the user's tabs as a "call" message, its
// peer a user name or number; the newest live call is the focus the pushed
// capabilities are computed for. An offer without G.711 gets "no-g711", a call to an
// unknown user "not-found". A tab that reconnects is greeted with its user's live calls
// and keeps them; a closed websocket never ends a call at once, only the re-attach grace
// running out with no tab and no media does (below).
//
// Re-attach (reattach.go, issue 10): a call whose tab went away waits the re-attach
// grace for a tab of its user to take it back with a media action — an ICE restart on
// the same leg, or a hand-over of its bridge to a new leg — the far end hearing the
// hold sound once the tab's media is gone; then it ends with "the caller's browser went
// away". The calls a tab greets with and each call push say where the audio is.
//
// The parked list (parked.go): one subscription to each pool's park service, merged
// (each call names its pool) and pushed as "parked" to every tab on each change; a
// pool's calls leave the list at once when that pool fails, and a call parked on the
// backup stays listed through failback.
//
// Lock order. Where two of these locks are held together, they are taken in this
// order, never the other way:
//
//	phones.mu → phone.out → hub.mu (edge) → phone.mu → outbox.mu (edge)
//
// Each lock in turn:
//
//   - phones.mu (the user table) is taken before a phone's mu (signedIn, close), never
//     while holding phone.out, hub.mu or phone.mu.
//   - phone.out serialises what goes to the user's tabs: a greeting (welcome, state,
//     calls) and each call's pushes. Under it the phone takes its own mu to read the
//     calls, and the hub's lock through Session.QueueState and Session.Refocus.
//   - hub.mu is held while the hub asks each session's calls for the focus
//     (phone.Focus takes phone.mu), and while it drops a state into an outbox.
//   - phone.mu is never held while calling into package edge (Reply, Offer,
//     QueueState, Refocus) or while waiting for anything: it is released before a
//     tab is told anything.
//   - parkedFeed.mu is never held together with any of the above: the feed is told of
//     a session after its greeting (join) and forgets it after phone.mu is released
//     (leave); under it the feed only offers frames without waiting (Session.Offer)
//     and asks the user agent for the active pool or a watcher to resubscribe.
//   - registrations: a user's op lock → registrations.mu; its callback into the
//     calls (signedIn, taking phones.mu) runs with neither held.
//   - a call's mediaMu (one media action at a time) comes before phone.out and
//     phone.mu; keep/leave of the registrations and Bridge.Detach run with none held.
//
// TestCallsLockOrderUnderLoad (gateway/calls_lockorder_test.go) runs these paths at
// once, many tabs and calls, under the race detector with a deadline.
package phone
