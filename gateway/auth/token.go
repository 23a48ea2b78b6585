package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind says what a token may be used for, so a ticket can never pass for a session and
// the other way round.
type Kind string

const (
	// KindSession authenticates a websocket session (demo sign-in today).
	KindSession Kind = "session"
	// KindTicket is a short-lived, single-use widget ticket (issue 6).
	KindTicket Kind = "ticket"
)

// Claims is what a token says. It is small on purpose: the token travels in the first
// websocket frame, whose size signaling.Auth bounds at 1024 characters.
type Claims struct {
	User      string    `json:"sub"`
	Kind      Kind      `json:"kind"`
	ID        string    `json:"jti"`
	IssuedAt  time.Time `json:"-"`
	ExpiresAt time.Time `json:"-"`
}

// wireClaims is the JSON form: Unix seconds, not RFC 3339 strings, to keep tokens short.
type wireClaims struct {
	User string `json:"sub"`
	Kind Kind   `json:"kind"`
	ID   string `json:"jti"`
	Iat  int64  `json:"iat"`
	Exp  int64  `json:"exp"`
}

// Errors Verify returns. They are distinct so logs say why a session was refused; the
// client is only ever told "unauthorized".
var (
	ErrMalformed = errors.New("auth: malformed token")
	ErrSignature = errors.New("auth: bad token signature")
	ErrExpired   = errors.New("auth: token expired")
	ErrKind      = errors.New("auth: wrong kind of token")
)

// tokenPrefix versions the format; the MAC covers it, so a future format cannot be
// confused with this one.
const tokenPrefix = "pk1."

// MinKeySize is the shortest configured key accepted: HMAC-SHA256's block-sized
// security needs at least 32 random bytes.
const MinKeySize = 32

// maxTokenLen bounds the work Verify does on attacker input before it checks the MAC.
const maxTokenLen = 1024

// b64 is strict: the last character of a 43-character MAC carries two padding bits,
// and a lenient decoder ignores them, so four spellings of one token would verify.
// A token has exactly one valid spelling.
var b64 = base64.RawURLEncoding.Strict()

// Signer issues and verifies tokens with one HMAC key. It is safe for concurrent use.
type Signer struct {
	key []byte
	// Now is the clock; tests set it to issue already-expired tokens without sleeping.
	Now func() time.Time
}

// NewSigner returns a Signer for key. An empty key means a fresh random key, so tokens
// are valid only for this process's lifetime.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("auth: random key: %w", err)
		}
	} else if len(key) < MinKeySize {
		return nil, fmt.Errorf("auth: key is %d bytes; at least %d are needed", len(key), MinKeySize)
	}
	return &Signer{key: bytes.Clone(key), Now: time.Now}, nil
}

// Issue makes a token of kind for user, valid for ttl.
func (s *Signer) Issue(user string, kind Kind, ttl time.Duration) (string, Claims, error) {
	if user == "" {
		return "", Claims{}, errors.New("auth: issue: empty user")
	}
	if ttl <= 0 {
		return "", Claims{}, fmt.Errorf("auth: issue: ttl %v is not positive", ttl)
	}
	id := make([]byte, 12)
	if _, err := rand.Read(id); err != nil {
		return "", Claims{}, fmt.Errorf("auth: issue: %w", err)
	}
	now := s.Now().Truncate(time.Second)
	c := Claims{User: user, Kind: kind, ID: hex.EncodeToString(id), IssuedAt: now, ExpiresAt: now.Add(ttl)}
	body, err := json.Marshal(wireClaims{User: c.User, Kind: c.Kind, ID: c.ID, Iat: now.Unix(), Exp: c.ExpiresAt.Unix()})
	if err != nil {
		return "", Claims{}, fmt.Errorf("auth: issue: %w", err)
	}
	signed := tokenPrefix + b64.EncodeToString(body)
	return signed + "." + b64.EncodeToString(s.mac(signed)), c, nil
}

// Verify checks token's signature, expiry and kind, in that order: nothing from an
// unsigned payload is trusted, not even to choose an error message.
func (s *Signer) Verify(token string, kind Kind) (Claims, error) {
	if len(token) > maxTokenLen || !strings.HasPrefix(token, tokenPrefix) {
		return Claims{}, ErrMalformed
	}
	dot := strings.LastIndexByte(token, '.')
	if dot < len(tokenPrefix) {
		return Claims{}, ErrMalformed
	}
	signed, sig := token[:dot], token[dot+1:]
	mac, err := b64.DecodeString(sig)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	if !hmac.Equal(mac, s.mac(signed)) {
		return Claims{}, ErrSignature
	}
	body, err := b64.DecodeString(signed[len(tokenPrefix):])
	if err != nil {
		return Claims{}, ErrMalformed
	}
	var w wireClaims
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil || w.User == "" || w.ID == "" {
		return Claims{}, ErrMalformed
	}
	c := Claims{User: w.User, Kind: w.Kind, ID: w.ID, IssuedAt: time.Unix(w.Iat, 0), ExpiresAt: time.Unix(w.Exp, 0)}
	if !s.Now().Before(c.ExpiresAt) {
		return c, ErrExpired
	}
	if c.Kind != kind {
		return c, ErrKind
	}
	return c, nil
}

// mac is HMAC-SHA256 over a label and the signed part; the label keeps these MACs from
// being valid for anything else that might one day share the key.
func (s *Signer) mac(signed string) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte("parkway gateway token\x00"))
	h.Write([]byte(signed))
	return h.Sum(nil)
}
