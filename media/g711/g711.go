// Package g711 encodes and decodes ITU-T G.711 audio (µ-law and A-law), the
// only codecs Parkway carries end to end: the gateway bridges WebRTC and SIP
// without transcoding, the park service streams its music on hold in G.711,
// and test phones decode what they hear to check it.
//
// The algorithms follow ITU-T Recommendation G.711 (11/88), tables 1a/2a: a
// 13/14-bit linear sample is split into a 3-bit segment (exponent) and a 4-bit
// step (mantissa); µ-law adds a bias of 33 (132 at 16-bit scale) before the
// search, A-law does not and inverts the even bits (XOR 0x55) on the wire.
//
// It lives under media/, beside the bridge and media/tone, but imports nothing outside
// the standard library (no pion), so the pool's park service and the test phones use
// it without the WebRTC stack.
package g711

// Payload types of the static RTP/AVP profile (RFC 3551 §6, table 4).
const (
	PayloadPCMU = 0
	PayloadPCMA = 8
)

const (
	ulawBias = 0x84 // 132: µ-law bias at 16-bit scale
	ulawClip = 32635
)

// EncodeUlaw converts one 16-bit linear PCM sample to µ-law.
func EncodeUlaw(s int16) byte {
	v := int(s)
	sign := 0
	if v < 0 {
		v = -v
		sign = 0x80
	}
	if v > ulawClip {
		v = ulawClip
	}
	v += ulawBias
	exp := 7
	for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (v >> (exp + 3)) & 0x0f
	return ^byte(sign | exp<<4 | mant)
}

// DecodeUlaw converts one µ-law byte to 16-bit linear PCM.
func DecodeUlaw(u byte) int16 {
	u = ^u
	sign := u & 0x80
	exp := int(u>>4) & 0x07
	mant := int(u & 0x0f)
	v := ((mant << 3) + ulawBias) << exp
	v -= ulawBias
	if sign != 0 {
		return int16(-v)
	}
	return int16(v)
}

// EncodeAlaw converts one 16-bit linear PCM sample to A-law.
func EncodeAlaw(s int16) byte {
	v := int(s) >> 3 // A-law works on 13-bit samples
	sign := byte(0x80)
	if v < 0 {
		v = -v - 1
		sign = 0
	}
	if v > 0xfff {
		v = 0xfff
	}
	var b byte
	if v < 32 {
		b = byte(v >> 1)
	} else {
		exp := 1
		for x := v >> 5; x > 1; x >>= 1 {
			exp++
		}
		b = byte(exp<<4) | byte((v>>exp)&0x0f)
	}
	return (b | sign) ^ 0x55
}

// DecodeAlaw converts one A-law byte to 16-bit linear PCM.
func DecodeAlaw(a byte) int16 {
	a ^= 0x55
	sign := a & 0x80
	exp := int(a>>4) & 0x07
	mant := int(a & 0x0f)
	var v int
	if exp == 0 {
		v = mant<<1 | 1
	} else {
		v = (mant<<1 | 0x21) << (exp - 1)
	}
	v <<= 3
	if sign == 0 {
		return int16(-v)
	}
	return int16(v)
}

// Decode converts a G.711 payload of the given RTP payload type to linear
// PCM, appending to dst. Unknown payload types decode to nothing.
func Decode(dst []int16, pt uint8, payload []byte) []int16 {
	switch pt {
	case PayloadPCMU:
		for _, b := range payload {
			dst = append(dst, DecodeUlaw(b))
		}
	case PayloadPCMA:
		for _, b := range payload {
			dst = append(dst, DecodeAlaw(b))
		}
	}
	return dst
}

// UlawToAlaw transcodes µ-law bytes to A-law, for music files stored in
// µ-law played to a PCMA peer.
func UlawToAlaw(dst, src []byte) []byte {
	for _, b := range src {
		dst = append(dst, EncodeAlaw(DecodeUlaw(b)))
	}
	return dst
}
