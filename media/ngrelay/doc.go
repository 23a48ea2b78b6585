// Package ngrelay puts a media relay behind rtpengine's "ng" control
// protocol (bencoded dictionaries over UDP, each datagram "<cookie>
// <dictionary>"), so one load generator drives this process, a plain Go
// forwarder and rtpengine itself the same way and the relay benchmarks
// compare like with like.
//
// Only what a two-party RTP call needs is understood: "ping", "offer"
// (the caller's SDP: the relay answers with the address the callee must
// send to), "answer" (the callee's SDP: the reply carries the address the
// caller must send to) and "delete". The SDP is read for its first
// c= address and m=audio port and rewritten the same way; anything else
// in it passes through.
//
// [Server] serves the protocol in one of these modes: [ModeRelay] gives each
// call a [media.Relay] (the Bridge's RTP path on the shared epoll/recvmmsg
// poller), [ModeRelayShared] puts every call on one shared port (a
// [media.MuxRelay]: recvmmsg/sendmmsg over many calls, calls told apart by
// their peers' addresses), [ModePlain] a plain Go UDP forwarder — a goroutine per socket
// doing ReadFrom then WriteTo, no checks and no rewriting — the floor the
// relay is measured against. [Client] is the load generator's side.
package ngrelay
