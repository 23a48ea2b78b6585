package pool

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// nonces issues and checks digest nonces without keeping state per challenge: a nonce is
// its issue time plus an HMAC over that time and the realm, so a flood of unauthenticated
// REGISTERs cannot grow memory (RFC 7616 §3.3 leaves the nonce format to the server and
// suggests exactly this time-stamp-plus-hash construction).
type nonces struct {
	secret [32]byte
	realm  string
	ttl    time.Duration
	now    func() time.Time
}

var (
	errNonceInvalid = errors.New("nonce not issued by this pool")
	errNonceStale   = errors.New("nonce expired")
)

func newNonces(realm string, ttl time.Duration, now func() time.Time) *nonces {
	n := &nonces{realm: realm, ttl: ttl, now: now}
	if _, err := rand.Read(n.secret[:]); err != nil {
		// crypto/rand never fails on Linux; a predictable secret would be worse than a crash.
		panic("pool: no randomness for nonce secret: " + err.Error())
	}
	return n
}

const nonceMACLen = 16

func (n *nonces) mac(ts uint64) []byte {
	h := hmac.New(sha256.New, n.secret[:])
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], ts)
	h.Write(b[:])
	h.Write([]byte(n.realm))
	return h.Sum(nil)[:nonceMACLen]
}

// issue returns a fresh nonce.
func (n *nonces) issue() string {
	ts := uint64(n.now().UnixNano())
	var raw [8 + nonceMACLen]byte
	binary.BigEndian.PutUint64(raw[:8], ts)
	copy(raw[8:], n.mac(ts))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// check says whether nonce was issued here and is still fresh. A nonce that is ours but
// old yields errNonceStale, which the registrar turns into stale=true so the phone retries
// with its cached password instead of asking the user (RFC 7616 §3.3).
func (n *nonces) check(nonce string) error {
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) != 8+nonceMACLen {
		return errNonceInvalid
	}
	ts := binary.BigEndian.Uint64(raw[:8])
	if !hmac.Equal(raw[8:], n.mac(ts)) {
		return errNonceInvalid
	}
	age := n.now().Sub(time.Unix(0, int64(ts)))
	if age < -time.Minute || age > n.ttl {
		return errNonceStale
	}
	return nil
}
