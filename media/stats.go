package media

import "sync/atomic"

// Stats counts what a Bridge did with each packet. Drops are counted, not
// logged: a spoofing source can send thousands a second.
type Stats struct {
	ToSIP, ToBrowser             uint64 // packets forwarded (audio and events)
	EventsToSIP, EventsToBrowser uint64 // of which RFC 4733 events

	WrongSource    uint64 // RTP (or RTCP) from an address other than the peer's
	Malformed      uint64 // not RTP version 2, or inconsistent lengths
	RTCP           uint64 // RTCP compound packets from the SIP peer (terminated, not relayed)
	RTCPSent       uint64 // RTCP compound packets sent to the SIP peer
	UnknownPayload uint64 // payload types neither side negotiated (CN, …)
	CodecMismatch  uint64 // G.711 laws differ between the sides
	GatedToSIP     uint64 // held back by the Direction (hold), per direction
	GatedToBrowser uint64
	NoRoute        uint64 // no SIP peer yet, or the browser track not bound
	WriteErrors    uint64 // send failures on either side

	// The SIP peer's last reception report about our stream (RFC 3550
	// §6.4.1): fraction lost ×256 and interarrival jitter in 8 kHz units.
	PeerFractionLost uint8
	PeerJitter       uint32

	// What arrived from the SIP peer, as its RTCP receiver report counts it (RFC 3550
	// §6.4.1, A.3, A.8): packets missing from the sequence (cumulative, of the current
	// stream), packets that came late or twice (behind the highest sequence number
	// seen), and our interarrival jitter estimate in 8 kHz units.
	LostFromSIP   uint64
	LateFromSIP   uint64
	JitterFromSIP uint32
}

// counters is Stats as atomics, written by the forwarding goroutines.
type counters struct {
	toSIP, toBrowser             atomic.Uint64
	eventsToSIP, eventsToBrowser atomic.Uint64
	wrongSource, malformed, rtcp atomic.Uint64
	rtcpSent                     atomic.Uint64
	unknownPayload, mismatch     atomic.Uint64
	gatedToSIP, gatedToBrowser   atomic.Uint64
	noRoute, writeErrors         atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		RTCPSent: c.rtcpSent.Load(),
		ToSIP:    c.toSIP.Load(), ToBrowser: c.toBrowser.Load(),
		EventsToSIP: c.eventsToSIP.Load(), EventsToBrowser: c.eventsToBrowser.Load(),
		WrongSource: c.wrongSource.Load(), Malformed: c.malformed.Load(), RTCP: c.rtcp.Load(),
		UnknownPayload: c.unknownPayload.Load(), CodecMismatch: c.mismatch.Load(),
		GatedToSIP: c.gatedToSIP.Load(), GatedToBrowser: c.gatedToBrowser.Load(), NoRoute: c.noRoute.Load(), WriteErrors: c.writeErrors.Load(),
	}
}
