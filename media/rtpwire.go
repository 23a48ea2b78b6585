package media

import "encoding/binary"

// RTP fixed header layout (RFC 3550 §5.1):
//
//	byte 0: V(2) P(1) X(1) CC(4)   byte 1: M(1) PT(7)
//	bytes 2-3 sequence, 4-7 timestamp, 8-11 SSRC, then CC×4 CSRC,
//	then the extension (RFC 3550 §5.3.1) when X is set.
const fixedHeader = 12

// wire is the part of an RTP packet the bridge looks at, parsed without
// allocating: offsets into the packet plus the fields it rewrites.
type wire struct {
	pt      uint8
	marker  bool
	seq     uint16
	ts      uint32
	ssrc    uint32
	payload int // offset of the payload
	end     int // end of the payload (before padding)
}

// parseRTP validates b as RTP version 2 and locates its payload. ok is
// false for anything else: truncated packets, bad lengths, other versions
// (STUN, DTLS and garbage all fail the version or length checks).
func parseRTP(b []byte, w *wire) bool {
	if len(b) < fixedHeader || b[0]>>6 != 2 {
		return false
	}
	n := fixedHeader + int(b[0]&0x0f)*4
	if b[0]&0x10 != 0 { // X: 4-byte extension header + length×4 bytes
		if len(b) < n+4 {
			return false
		}
		n += 4 + int(binary.BigEndian.Uint16(b[n+2:]))*4
	}
	end := len(b)
	if b[0]&0x20 != 0 { // P: last byte counts padding, itself included (§5.1)
		pad := int(b[len(b)-1])
		if pad == 0 {
			return false
		}
		end -= pad
	}
	if n > end {
		return false
	}
	w.marker = b[1]&0x80 != 0
	w.pt = b[1] & 0x7f
	w.seq = binary.BigEndian.Uint16(b[2:])
	w.ts = binary.BigEndian.Uint32(b[4:])
	w.ssrc = binary.BigEndian.Uint32(b[8:])
	w.payload, w.end = n, end
	return true
}

// isRTCP reports whether b looks like RTCP multiplexed on the RTP port:
// RFC 5761 §4 tells them apart by the second byte, 192-223 being RTCP
// packet types (SR 200, RR 201, SDES 202, BYE 203, APP 204, …).
func isRTCP(b []byte) bool {
	return len(b) >= 8 && b[0]>>6 == 2 && b[1] >= 192 && b[1] <= 223
}

// putHeader writes a plain 12-byte RTP header (no CSRC, no extension, no
// padding) into b.
func putHeader(b []byte, marker bool, pt uint8, seq uint16, ts, ssrc uint32) {
	b[0] = 0x80
	b[1] = pt & 0x7f
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
}
