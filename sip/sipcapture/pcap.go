package sipcapture

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// The classic libpcap file format (https://www.tcpdump.org/manpages/pcap-savefile.5.txt).
const (
	pcapMagic      = 0xa1b2c3d4 // microsecond timestamps
	pcapSnapLen    = 65535
	linkTypeRaw    = 101 // the packet begins with an IPv4 or IPv6 header
	protoTCP       = 6
	protoUDP       = 17
	maxPayload     = 65535 - 40 - 20 // fits an IPv6 or IPv4 packet with a TCP header
	fileHeaderSize = 24
	recordHeader   = 16
)

func fileHeader() []byte {
	h := make([]byte, fileHeaderSize)
	binary.LittleEndian.PutUint32(h[0:], pcapMagic)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], pcapSnapLen)
	binary.LittleEndian.PutUint32(h[20:], linkTypeRaw)
	return h
}

// segment is one transport-layer packet to synthesize.
type segment struct {
	at       time.Time
	src, dst netip.AddrPort
	tcp      bool
	seq, ack uint32 // TCP only
	payload  []byte
}

// record encodes s as a pcap record: record header, IP header, UDP or TCP header,
// payload. src and dst must be of one family.
func (s segment) record() []byte {
	payload := s.payload
	if len(payload) > maxPayload {
		payload = payload[:maxPayload]
	}
	v6 := s.src.Addr().Is6() && !s.src.Addr().Is4In6()
	ipLen, l4Len := 20, 8
	if v6 {
		ipLen = 40
	}
	if s.tcp {
		l4Len = 20
	}
	n := ipLen + l4Len + len(payload)
	b := make([]byte, recordHeader+n)
	binary.LittleEndian.PutUint32(b[0:], uint32(s.at.Unix()))
	binary.LittleEndian.PutUint32(b[4:], uint32(s.at.Nanosecond()/1000))
	binary.LittleEndian.PutUint32(b[8:], uint32(n))
	binary.LittleEndian.PutUint32(b[12:], uint32(n))
	ip, l4 := b[recordHeader:recordHeader+ipLen], b[recordHeader+ipLen:recordHeader+ipLen+l4Len]
	copy(b[recordHeader+ipLen+l4Len:], payload)
	proto := byte(protoUDP)
	if s.tcp {
		proto = protoTCP
	}
	src, dst := s.src.Addr().Unmap(), s.dst.Addr().Unmap()
	if v6 {
		src, dst = s.src.Addr(), s.dst.Addr()
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(l4Len+len(payload)))
		ip[6], ip[7] = proto, 64
		a, d := src.As16(), dst.As16()
		copy(ip[8:], a[:])
		copy(ip[24:], d[:])
	} else {
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(n))
		binary.BigEndian.PutUint16(ip[6:], 0x4000) // don't fragment
		ip[8], ip[9] = 64, proto
		a, d := src.As4(), dst.As4()
		copy(ip[12:], a[:])
		copy(ip[16:], d[:])
		binary.BigEndian.PutUint16(ip[10:], checksum(0, ip))
	}
	binary.BigEndian.PutUint16(l4[0:], s.src.Port())
	binary.BigEndian.PutUint16(l4[2:], s.dst.Port())
	if s.tcp {
		binary.BigEndian.PutUint32(l4[4:], s.seq)
		binary.BigEndian.PutUint32(l4[8:], s.ack)
		l4[12] = 5 << 4             // data offset: 20 bytes
		l4[13] = 0x18               // PSH, ACK
		l4[14], l4[15] = 0xff, 0xff // window
	} else {
		binary.BigEndian.PutUint16(l4[4:], uint16(l4Len+len(payload)))
	}
	seg := b[recordHeader+ipLen:]
	sum := checksum(pseudoHeader(src, dst, proto, len(seg)), seg)
	at := 6 // UDP checksum
	if s.tcp {
		at = 16
	}
	if sum == 0 && !s.tcp {
		sum = 0xffff // RFC 768: a computed zero is sent as all ones
	}
	binary.BigEndian.PutUint16(l4[at:], sum)
	return b
}

// pseudoHeader is the partial sum of the IPv4 or IPv6 pseudo-header (RFC 768, RFC 8200
// §8.1) that the UDP and TCP checksums cover.
func pseudoHeader(src, dst netip.Addr, proto byte, length int) uint32 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
	}
	s, d := src.AsSlice(), dst.AsSlice()
	add(s)
	add(d)
	sum += uint32(proto)
	sum += uint32(length)
	return sum
}

// checksum is the Internet checksum (RFC 1071) of b, starting from the partial sum
// initial; a checksum field inside b must be zero when it is computed.
func checksum(initial uint32, b []byte) uint16 {
	sum := initial
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
