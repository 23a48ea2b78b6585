// Package rtpload is a load generator for RTP relays: it plays N
// two-party G.711 calls through a relay it sets up over rtpengine's ng
// protocol (this project's ngrelay server or rtpengine itself), both
// parties in this process, and measures what the relay did to the packets.
//
// Each call has a caller and a callee, each with its own loopback address
// (taken from [Config.Parties], default 127.2.0.0/16) on one shared UDP
// port. The caller's SDP goes into an ng "offer", the callee's into an
// "answer"; the SDPs that come back say where each party sends. Both
// parties then send a 20 ms PCMU packet (12-byte header, 160 bytes of
// payload) every 20 ms — 50 packets/s each way, 100 per call — the
// streams' phases spread evenly over the 20 ms, so the relay sees a
// steady rate.
//
// The generator is built to cost little and to keep its schedule, so that
// on a small machine the relay's numbers stay the relay's: a few sockets
// serve every party (one per core, SO_REUSEPORT, bound to the loopback
// device, outside Go's netpoller). One paced loop per socket wakes every
// 2 ms (clock_nanosleep on a thread of its own) and sends every packet
// then due with one sendmmsg, each message carrying its party's source
// address (IP_PKTINFO); one loop per socket reads with recvmmsg, 64
// datagrams at a time, every 10 ms. Nothing is allocated per packet. The
// loops wait with raw syscalls and keep their P meanwhile (Run raises
// GOMAXPROCS to leave Ps for the rest), so the runtime's sysmon does not
// wake every 20 µs to take them away. With [Config.Realtime] its threads
// run at the highest normal priority (nice −20) on one CPU, so the other
// work on a shared machine does
// not hold its sending back; should it still fall more than
// [Config.MaxSendLag] behind, it stops sending (Result.Overrun) rather
// than hog the machine catching up.
//
// What is measured, and how:
//
//   - Every packet has a due time: packet k of a stream is due at
//     start + k·20 ms + the stream's phase. The payload carries the
//     stream, k and the due time (a relay rewrites the RTP header, not the
//     payload).
//   - Its arrival time is the kernel's (SO_TIMESTAMPNS: when the packet
//     entered the receiving socket's stack), so a receive loop that reads
//     late adds nothing. Lateness is arrival − due: it counts whatever
//     held the packet up, the relay and the load generator's own sending
//     alike. A packet is late when its lateness exceeds
//     [Config.LateAfter] (default 20 ms, one packet interval: what a
//     jitter buffer sized for one frame would still play).
//   - A packet is in the measured window when its due time is; one that
//     has not arrived within [Config.Grace] after the last is sent is
//     lost. Duplicates, reordered packets, packets delivered to the wrong
//     party and datagrams dropped by the generator's own full receive
//     buffers (SO_RXQ_OVFL) are counted apart.
//   - The generator reports its own lateness at sending (send time − due
//     time) too.
//
// With no ng address ([Config.NG] zero) the parties send to each other
// directly: the self-check. Its late and lost packets are the load
// generator's (and the machine's) alone, so a relay's numbers can be read
// against it.
//
// cmd/rtpload wires it to flags; media/rtpload's benchmark runs it as a
// separate process beside a relay process, so the relay's CPU and memory
// are the relay's alone. Linux only.
package rtpload
