// Package ua is the gateway's SIP user agent: one per signed-in user, acting on the
// user's behalf toward the pools — registering, placing and answering calls, holding,
// transferring, parking, being parked and retrieved, and watching the parked calls.
//
// Entry points:
//
//	m, _ := ua.NewManager(ua.Config{Pools: …, Active: "pool-a", Credentials: …})
//	u, _ := m.SignIn(ctx, "alice")        // REGISTER with digest (RFC 3261 §10, §22)
//	c, _ := u.Dial(ctx, "bob", leg)       // INVITE via the pool; leg is the media bridge
//	in := <-u.Incoming(); in.Answer(ctx, leg) / in.Decline(ctx, 486)
//	c.Hold(ctx); c.Resume(ctx)            // re-INVITE sendonly / sendrecv (RFC 3264 §8.4)
//	c.Transfer(ctx, "carol")              // REFER + NOTIFY sipfrag (RFC 3515)
//	c.AttendedTransfer(ctx, consult)      // REFER with Replaces (RFC 5589 §7, RFC 3891)
//	orbit, _ := c.Park(ctx, "")           // REFER to sip:park@domain (park/doc.go)
//	c.End(ctx, "the park pool failed")    // BYE with a Reason (RFC 3326)
//	e := <-u.Events()                     // dialing, ringing, active, held, ended + reason
//	m.Redirect(ctx, "pool-b")             // gateway/dr's Redirector: re-register everyone
//	m.EndParked(ctx, "pool-a", reason)    // end our calls parked on a pool that failed
//	w, _ := m.WatchParked(ctx, "", fn)    // SUBSCRIBE x-parkway-park (RFC 6665)
//
// Failures are *StatusError (errors.Is(err, ErrNotFound), ErrBusy, ErrDeclined…) and
// *RedirectError (which users could not move).
//
// # One stack, many users
//
// The Manager owns one sipgo stack and one UDP+TCP listener. Every user has its own
// Contact on it (sip:alice@gatewayIP:port), which is what the pool's registrar binds
// and retargets to; new requests are dispatched by Request-URI user, in-dialog
// requests by Call-ID and our tag. Registrations are refreshed at RefreshAt of the
// granted lifetime. Redirect moves every user to another pool with bounded
// parallelism; calls are untouched, because the pools never Record-Route and every
// dialog runs end to end. PoolDown is the DR controller's word that a pool stopped
// answering (gateway/phone passes it on from the snapshots): no goodbye — the
// un-REGISTER at sign-out, a park watcher's un-SUBSCRIBE — goes to that pool until it
// is reported up again; each could only wait out RequestTimeout.
//
// # Calls and media
//
// The user agent never touches RTP. A MediaLeg (the media bridge's SIP side) gives
// the address for our SDP, and is told where the far end is (SetRemote) and which way
// media flows (SetDirection). A Call keeps one MediaLeg for its whole life: when the
// call moves to another dialog — a REFER followed (we are being parked, retrieved or
// transferred) or an INVITE with Replaces accepted (we retrieve, or are the target of
// an attended transfer) — only SetRemote is called, so the browser never renegotiates.
// SDP is G.711 only (PCMU 0, PCMA 8) plus telephone-event, built and parsed with
// pion/sdp (sdp.go).
//
// # Adoption
//
// In a cluster (issue #11) a DialogSink (Manager.SetDialogSink) hears every change of an
// established call as a DialogRecord, and User.Adopt carries on a call of a gateway that
// died from its record: a re-INVITE in the same dialog offering the adopter's media
// (adopt.go).
//
// # Concurrency
//
// Manager.mu guards the user, dialog and watcher tables and the active pool. Each user
// has a registration refresher and two delivery queues (events, incoming calls) that
// never block SIP handlers. Each Call owns one context and one goroutine running its
// select loop (call.go): every change to the call's dialog or media happens there;
// handlers and API calls post functions to it. Helper goroutines (dialog watchers, a
// REFER being followed) belong to the call's WaitGroup, the call's to its user's, the
// user's to the Manager's, which Close waits for.
package ua
