// Package rtpload is a load generator for RTP relays: it plays N
// two-party G.711 calls through a relay it sets up over rtpengine's ng
// protocol (this project's ngrelay server or rtpengine itself), both
// parties in this process, and measures what the relay did to the packets.
//
// Each call has a caller and a callee socket. The caller's SDP goes into
// an ng "offer", the callee's into an "answer"; the SDPs that come back
// say where each party sends. Both parties then send a 20 ms PCMU packet
// (12-byte header, 160 bytes of payload) every 20 ms, the calls' phases
// spread evenly over the 20 ms, so the relay sees a steady 100 packets/s
// per call. Each payload carries its send time, so one-way latency is
// measured on one clock; a packet later than Config.LateAfter counts as
// late, one that never arrives (by the end of a grace period) as lost,
// one that arrives behind a newer one of its stream as reordered.
//
// With no ng address ([Config.NG] zero) the parties send to each other
// directly: the same measurement without a relay, whose latency is the
// floor the relay's is compared to.
//
// cmd/rtpload wires it to flags; media/rtpload's benchmark runs it as a
// separate process beside a relay process, so the relay's CPU and memory
// are the relay's alone.
package rtpload
