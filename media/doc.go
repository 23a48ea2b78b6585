// Package media relays one call leg's audio between a browser's WebRTC
// PeerConnection and a SIP peer's plain RTP, G.711 only, without
// transcoding.
//
// Entry points:
//
//   - [NewFactory] builds the gateway's pion API: a MediaEngine with only
//     PCMU, PCMA and telephone-event, ICE limited to configured addresses,
//     NAT 1:1 addresses for deployments, RTCP sender/receiver reports.
//   - [Factory.NewLeg] makes a [Leg]: one PeerConnection toward the browser
//     wired to one [Bridge]; [Leg.Accept] answers the browser's offer and
//     refuses one without G.711 with [ErrNoG711]; [Leg.Offer] and
//     [Leg.SetAnswer] serve flows where the gateway offers first. Either
//     way the browser gets exactly one G.711 law.
//   - [Bridge] is the relay itself: a symmetric RTP socket toward the SIP
//     peer, latching and source filtering, payload type mapping (audio and
//     RFC 4733 events), hold gating by [Direction], and SSRC/sequence/
//     timestamp rewriting so the browser sees one continuous stream while the
//     far end changes under it ([Bridge.SetRemote]).
//   - [Factory.Handover] moves a call to a new browser PeerConnection on the
//     same Bridge (a reloaded tab, another tab): the SIP side sees one
//     continuous stream and needs no new dialog. [Bridge.Detach] plays a
//     [Hold] sound (silence or music) to the SIP peer while no browser feeds
//     the bridge; [Leg.Resume] feeds the same PeerConnection's track again.
//   - RTCP is terminated on each side, never relayed (the SSRCs differ):
//     pion reports to the browser; the bridge reports to the SIP peer from
//     an even/odd RTP/RTCP port pair (RFC 3550 §6, §11) and reads the
//     peer's reports into [Stats].
//   - [Track] is a TrackLocal that keeps telephone-event packets as events
//     (pion's TrackLocalStaticRTP stamps every packet with the audio payload
//     type).
//
// Concurrency: a Bridge owns four goroutines — the SIP RTP reader, the
// browser → SIP feed (a browser track's reader or a hold sound; exactly one
// at a time: the next starts once the last has returned), the SIP RTCP
// reader and the RTCP sender — and a
// Leg one more that drains RTCP from its pion sender so pion's report
// interceptors run. Close ends them all and waits for them. Each per-packet path is run by
// exactly one goroutine and touches only that goroutine's buffers, header
// and rewriter; settings changed from outside (remote, direction, binding)
// are swapped in through atomics and read once per packet, so the
// forwarding step takes no lock and allocates nothing (the shared poller's
// ReadBatch, golang.org/x/net's, allocates each packet's source address).
//
// With [BridgeConfig.SharedPoller] the SIP RTP reader is instead the
// process's shared poller: one worker per core draining its sockets with
// epoll and recvmmsg (poller_linux.go); a socket stays with one worker for
// its life, so its packets are still handled by one goroutine at a time.
//
// [Relay] is the same RTP path between two plain-RTP sides (no browser),
// on the shared poller by default: what media/ngrelay serves to the relay
// benchmarks in media/rtpload.
//
// [MuxRelay] relays many such calls through ONE shared UDP port (as an SFU
// does): calls are told apart by their peers' source addresses, sockets
// (one per core by default) join the port with SO_REUSEPORT, and one
// worker (by default) wakes every [DefaultMuxPace], moves the packets of
// many calls from each socket with one recvmmsg and one sendmmsg, and
// sleeps again in the kernel — batching a socket per call can never get at
// 50 packets/s, and one wake-up serves every call.
// Unknown sources are dropped (a shared port cannot latch) and a call's
// Close releases its addresses at once (muxrelay.go, muxrelay_linux.go).
package media
