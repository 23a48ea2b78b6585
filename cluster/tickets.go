package cluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parkway/parkway/gateway/auth"
)

const (
	bucketTickets = "parkway_tickets"
	bucketKeys    = "parkway_keys"
	keySession    = "session"
)

// Tickets is an auth.SpentStore the whole cluster shares: spending a ticket is
// creating its key, which succeeds once, so a ticket raced on two gateways is accepted
// by one and refused (auth.ErrReused) by the other. Keys expire with the bucket's TTL,
// at least the longest ticket lifetime.
type Tickets struct {
	kv jetstream.KeyValue
}

var _ auth.SpentStore = (*Tickets)(nil)

// NewTickets opens the spent-tickets bucket, keeping each ID for ttl (the gateway's
// ticket lifetime; at least a minute is kept).
func NewTickets(ctx context.Context, n *Node, ttl time.Duration) (*Tickets, error) {
	kv, err := n.Bucket(ctx, bucketTickets, max(ttl, time.Minute)+time.Minute)
	if err != nil {
		return nil, err
	}
	return &Tickets{kv: kv}, nil
}

// Spend implements auth.SpentStore.
func (t *Tickets) Spend(id string, expires time.Time) error {
	if id == "" || !validKey(id) {
		return fmt.Errorf("cluster: ticket id %q is not a key", id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := t.kv.Create(ctx, "t."+id, []byte(expires.UTC().Format(time.RFC3339)))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return auth.ErrReused
	}
	return err
}

func validKey(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '=') {
			return false
		}
	}
	return true
}

// SessionKey returns the cluster's session signing key: the one already stored, or
// a fresh random one of 32 bytes stored now (the first gateway to ask creates it, the
// others read it). A gateway with sessionKeyFile uses its file instead.
func SessionKey(ctx context.Context, n *Node) ([]byte, error) {
	kv, err := n.Bucket(ctx, bucketKeys, 0)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if _, err := kv.Create(ctx, keySession, key); err == nil {
		return key, nil
	} else if !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("cluster: storing the session key: %w", err)
	}
	e, err := kv.Get(ctx, keySession)
	if err != nil {
		return nil, fmt.Errorf("cluster: reading the session key: %w", err)
	}
	return e.Value(), nil
}
