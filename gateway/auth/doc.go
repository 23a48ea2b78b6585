// Package auth issues and checks the gateway's session tokens: short, HMAC-SHA256-signed,
// expiring bearer tokens that a browser keeps in sessionStorage (one per tab) and presents
// in the first websocket message (signaling.Auth), never in a URL.
//
// Entry points: [NewSigner] makes a [Signer] from a key (random per process when none is
// configured, so a restart signs everyone out, which is what a demo wants); [Signer.Issue]
// makes a token for a user, [Signer.Verify] checks one and returns its [Claims].
//
// A token carries a [Kind]. Sessions are KindSession. Issue 6's widget tickets are
// KindTicket, short-lived and single-use: Verify checks the signature, expiry and kind, and
// the caller that accepts tickets also spends the ticket's ID (Claims.ID) in a
// [SpentStore], so the same format serves both without a second signing scheme.
// [MemorySpent] is the in-process store; it remembers an ID only until its ticket expires.
package auth
