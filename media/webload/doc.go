// Package webload is a load generator for the gateway's browser side: it
// signs N users in to a gateway over its real HTTP and websocket API, as a
// browser tab does, and has each place one G.711 call over a pion WebRTC
// PeerConnection to a target whose media echoes it (in the test SIPp with its
// -rtp_echo; in the benchmark SIPp answering, with SDP naming a UDP echo),
// then measures what comes back.
//
// It runs as a process of its own (cmd/webload), so what the gateway
// process spends is the gateway's alone: media/webload's benchmark starts
// the pools and the gateway as `parkway pool` and `parkway gateway`
// processes, SIPp, and this generator, and reads the gateway's CPU and
// memory from /proc over each measured window.
//
// Sign-in is the gateway's own: with an embed key ([Config.EmbedKey]) as a
// site that embeds the widget does — its backend buys a ticket (POST
// /api/tickets, the key as Bearer), the widget page exchanges it (POST
// /api/widget/session, from the gateway's own origin) for a session token —
// the only way into a gateway outside demo mode; without one, the demo's
// sign-in by name (POST /api/session). The token goes in the websocket's
// first frame (auth); the welcome follows. A user is ready to call once the
// gateway no longer answers a call request "unavailable" (its SIP user
// agent has registered): the generator asks with a call that carries no SDP
// and reads the refusal, as browsertest.Phone.WaitReady does.
//
// A call is the softphone's: a complete offer (candidates gathered, PCMU
// and PCMA), the call action to [Config.Target], the gateway's answer, ICE
// and DTLS to the gateway's leg, then the call's "active" state. Every
// session's websocket is read by one goroutine that answers the gateway's
// pings and notes a call that ends.
//
// Steps ([Config.Steps]) raise the number of concurrent calls: each step
// adds users and calls to those already up, lets the load run
// [Config.Warmup], then measures [Config.Duration] (the window;
// [Config.OnWindow] is called at its edges so a watcher can read the
// gateway's CPU over exactly that time) and waits [Config.Grace] for the
// window's last echoes.
//
// What is measured, and how:
//
//   - One pacer goroutine sends for every call: it wakes every 2 ms and
//     sends one 20 ms PCMU probe (160 bytes) on a tenth of the calls, so
//     each call sends every 20 ms and the gateway sees a steady rate. The
//     payload carries the call's index and the send time; the RTP packet
//     and the payload buffer are reused (pion encrypts each with SRTP).
//     When it falls more than 100 ms behind (the process was not run in
//     time) it skips the ticks it missed instead of sending them in a
//     burst no browser would send; their probes count as unsent, neither
//     sent nor lost.
//   - The far end echoes each probe, so it comes back through the gateway twice:
//     browser → gateway leg → bridge → SIPp → bridge → leg → browser. A
//     probe is in the window when its send time is; the echo of one is
//     counted when it arrives before the results are read (Grace after the
//     window). Lost = sent − echoed, in % of sent.
//   - Late: a round trip over [Config.LateAfter] (default 200 ms, the rule
//     of the in-process benchmark gateway.BenchmarkCallsGatewayLoad: a
//     jitter buffer has given up on the packet long before). Round trips go
//     into one histogram for all calls (10 µs steps to 10 ms, 100 µs to
//     100 ms, 1 ms to 4 s) for p50, p99 and max.
//   - Also: calls that heard no echo in the window (silent), echoes that
//     name another call (misrouted), calls the gateway ended, the pacer's
//     own lag behind its schedule (max) and its unsent probes, and the
//     generator's CPU.
//
// Every call's ICE, DTLS and SRTP go over one UDP socket (pion's ICE UDP mux,
// 4 MiB buffers), read by one goroutine, not a socket per call.
//
// Linux and loopback: ICE is limited to UDP over IPv4 loopback (the
// benchmarks and tests run in a network namespace of their own,
// scripts/loopback-only.sh).
package webload
