package pool

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"sync"
	"time"
)

// nonces issues and checks digest nonces without keeping state per challenge: a nonce
// is its issue time and a salt plus an HMAC over them and the realm, so a flood of
// unauthenticated REGISTERs cannot grow memory (RFC 7616 §3.3 leaves the nonce format to
// the server and suggests exactly this time-stamp-plus-hash construction).
//
// What it does remember is the nonce-counts used with each nonce, so a captured
// Authorization cannot be replayed while its nonce is fresh (RFC 7616 §3.3, §5.3): the
// highest, and which of the ncWindow below it were seen, so that a phone's concurrent
// requests on one nonce may arrive out of order (as an IPsec anti-replay window). Only
// nonces that authenticated someone are remembered, at most maxCounts of them, each until
// it expires; when the table is full the oldest is forgotten and every nonce issued no
// later than it counts as stale, so forgetting never reopens a replay.
type nonces struct {
	secret [32]byte
	realm  string
	ttl    time.Duration
	now    func() time.Time

	mu        sync.Mutex
	counts    map[string]nonceUse
	maxCounts int
	floor     uint64 // issue time (ns) of the newest nonce forgotten while still fresh
}

// nonceUse is what a nonce has been used for so far.
type nonceUse struct {
	nc     uint64 // highest nonce-count seen; 0 for a use without qop
	below  uint64 // bit i set: nc-1-i was seen too
	issued uint64 // issue time in ns, from the nonce itself
}

// ncWindow is how far below the highest nonce-count a late one is still taken.
const ncWindow = 64

// take records nc and reports whether it is new: above the highest, or inside the
// window below it and not seen before.
func (u *nonceUse) take(nc uint64) bool {
	switch {
	case nc > u.nc:
		if shift := nc - u.nc; shift >= ncWindow {
			u.below = 0
		} else {
			u.below = u.below<<shift | 1<<(shift-1)
		}
		u.nc = nc
		return true
	case nc == u.nc || u.nc-nc > ncWindow:
		return false
	default:
		bit := uint64(1) << (u.nc - nc - 1)
		if u.below&bit != 0 {
			return false
		}
		u.below |= bit
		return true
	}
}

// defaultMaxNonceCounts bounds the replay table: a few per registered phone.
const defaultMaxNonceCounts = 8192

var (
	errNonceInvalid = errors.New("nonce not issued by this pool")
	errNonceStale   = errors.New("nonce expired")
)

func newNonces(realm string, ttl time.Duration, now func() time.Time) *nonces {
	n := &nonces{realm: realm, ttl: ttl, now: now, counts: map[string]nonceUse{}, maxCounts: defaultMaxNonceCounts}
	if _, err := rand.Read(n.secret[:]); err != nil {
		// crypto/rand never fails on Linux; a predictable secret would be worse than a crash.
		panic("pool: no randomness for nonce secret: " + err.Error())
	}
	return n
}

const nonceMACLen = 16

// A nonce is issue time (8 bytes), a random salt (8 bytes) and the MAC of both. The
// salt makes every challenge's nonce its own even when two share a clock reading, which
// the nonce-count table relies on.
const (
	nonceSaltLen = 8
	nonceRawLen  = 8 + nonceSaltLen + nonceMACLen
)

func (n *nonces) mac(head []byte) []byte {
	h := hmac.New(sha256.New, n.secret[:])
	h.Write(head)
	h.Write([]byte(n.realm))
	return h.Sum(nil)[:nonceMACLen]
}

// issue returns a fresh nonce.
func (n *nonces) issue() string {
	ts := uint64(n.now().UnixNano())
	var raw [nonceRawLen]byte
	binary.BigEndian.PutUint64(raw[:8], ts)
	rand.Read(raw[8 : 8+nonceSaltLen])
	copy(raw[8+nonceSaltLen:], n.mac(raw[:8+nonceSaltLen]))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// check says whether nonce was issued here and is still fresh. A nonce that is ours but
// old yields errNonceStale, which the registrar turns into stale=true so the phone retries
// with its cached password instead of asking the user (RFC 7616 §3.3).
func (n *nonces) check(nonce string) error {
	_, err := n.issued(nonce)
	return err
}

// issued returns the issue time of a nonce of ours that is still fresh.
func (n *nonces) issued(nonce string) (uint64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) != nonceRawLen {
		return 0, errNonceInvalid
	}
	ts := binary.BigEndian.Uint64(raw[:8])
	if !hmac.Equal(raw[8+nonceSaltLen:], n.mac(raw[:8+nonceSaltLen])) {
		return 0, errNonceInvalid
	}
	age := n.now().Sub(time.Unix(0, int64(ts)))
	if age < -time.Minute || age > n.ttl {
		return ts, errNonceStale
	}
	return ts, nil
}

// use records that a fresh nonce of ours authenticated a request with nonce-count nc
// (qop present) or without qop (withQOP false). It reports false for a replay: an nc
// already seen with this nonce or too far below the highest, a second use of a nonce
// without qop, or a nonce too old for the table to remember. The caller then challenges with stale=true,
// so an honest phone simply retries with a new nonce (RFC 7616 §3.3).
func (n *nonces) use(nonce string, nc uint64, withQOP bool) bool {
	ts, err := n.issued(nonce)
	if err != nil {
		return false
	}
	if !withQOP {
		nc = 0
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if ts <= n.floor {
		return false
	}
	if u, ok := n.counts[nonce]; ok {
		if !withQOP || !u.take(nc) {
			return false
		}
		n.counts[nonce] = u
		return true
	}
	if withQOP && nc == 0 {
		return false // RFC 7616 §3.4: nc counts from 00000001
	}
	if len(n.counts) >= n.maxCounts {
		n.evictLocked()
	}
	n.counts[nonce] = nonceUse{nc: nc, issued: ts}
	return true
}

// expire forgets nonces that are no longer fresh; the janitor calls it.
func (n *nonces) expire() int {
	cutoff := uint64(n.now().Add(-n.ttl).UnixNano())
	n.mu.Lock()
	defer n.mu.Unlock()
	k := 0
	for nonce, u := range n.counts {
		if u.issued < cutoff {
			delete(n.counts, nonce)
			k++
		}
	}
	return k
}

// evictLocked makes room: expired nonces go first (their replays are stale anyway);
// if none has expired, the oldest is forgotten and raises the floor.
func (n *nonces) evictLocked() {
	cutoff := uint64(n.now().Add(-n.ttl).UnixNano())
	var oldest string
	var oldestTS uint64
	for k, u := range n.counts {
		if u.issued < cutoff {
			delete(n.counts, k)
			continue
		}
		if oldest == "" || u.issued < oldestTS {
			oldest, oldestTS = k, u.issued
		}
	}
	if len(n.counts) < n.maxCounts || oldest == "" {
		return
	}
	delete(n.counts, oldest)
	n.floor = max(n.floor, oldestTS)
}
