// Package sipcapture writes every SIP message a process sends or receives to a pcap
// file that Wireshark, tshark and sngrep read (`parkway demo|gateway|pool
// --sip-capture FILE`). Each message becomes one packet of link type RAW (IPv4 or
// IPv6, LINKTYPE_RAW 101) with a synthesized UDP or TCP header carrying the real
// addresses and ports; TCP segments are numbered per direction, so a dissector
// reassembles a stream, and every checksum is correct.
//
// The messages come from sipgo's transport trace hook (sip.SIPDebugTracer), which is
// process-wide: one capture records every sipgo stack in the process — in the demo the
// gateway's user agent, its prober, both pools and their park services. Importing this
// package installs the hook (in init: sipgo reads it without a lock, so it must never
// change while transports run); Start attaches a file and its stop detaches it, after
// which messages are dropped at the cost of an atomic load. What a process sends with its
// own socket write instead of sipgo's (the pool's stateless relay and its stateless
// answers) it records with Sent.
package sipcapture
