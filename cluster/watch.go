package cluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// watchHeartbeat is how often the server hosting a watch's consumer must show it is
// alive (the client's minimum). A watch whose consumer lived on a node that died
// notices after two missed heartbeats and makes a new consumer on a live node,
// resuming after the last revision it saw. kv.Watch's ordered push consumer waits
// for 5 s heartbeats and so stalled 10–12 s after a gateway's SIGKILL (measured):
// longer than the 2 s a new DR leader has to take over in.
const watchHeartbeat = 500 * time.Millisecond

// watchKV calls fn with the latest value of every key of kv matching key (a
// pattern), then with every change, until ctx ends: kv.Watch's contract without its
// initial nil, but on an ordered pull consumer with a short heartbeat (watchHeartbeat).
// It returns the error that kept the consumer from starting or that it met later.
func watchKV(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, key string, fn func(jetstream.KeyValueEntry)) error {
	bucket := kv.Bucket()
	prefix := "$KV." + bucket + "."
	cons, err := js.OrderedConsumer(ctx, "KV_"+bucket, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{prefix + key},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return err
	}
	// failed is the consumer's first error. The ordered consumer recreates itself
	// after some (a missed heartbeat) but not after others (a request that timed out
	// while JetStream elected a leader), which left a watch silent for good; any error
	// ends this watch instead, and watch starts a new one from each key's latest value.
	failed := make(chan error, 1)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		meta, err := m.Metadata()
		if err != nil {
			return
		}
		fn(&watchedEntry{
			bucket: bucket, key: strings.TrimPrefix(m.Subject(), prefix), value: m.Data(),
			revision: meta.Sequence.Stream, created: meta.Timestamp, delta: meta.NumPending,
			op: entryOp(m.Headers().Get("KV-Operation"), m.Headers().Get("Nats-Marker-Reason")),
		})
	}, jetstream.PullExpiry(2*watchHeartbeat+time.Second), jetstream.PullHeartbeat(watchHeartbeat),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			select {
			case failed <- err:
			default:
			}
		}))
	if err != nil {
		return err
	}
	defer cc.Stop()
	select {
	case <-ctx.Done():
		return nil
	case err := <-failed:
		return fmt.Errorf("cluster: watching %s %s: %w", bucket, key, err)
	}
}

// entryOp is the KV operation a message's headers describe, as kv.Watch reads them.
func entryOp(op, marker string) jetstream.KeyValueOp {
	switch {
	case op == "DEL" || marker == "Remove":
		return jetstream.KeyValueDelete
	case op == "PURGE" || marker == "MaxAge" || marker == "Purge":
		return jetstream.KeyValuePurge
	}
	return jetstream.KeyValuePut
}

// watchedEntry is one key's value as watchKV read it.
type watchedEntry struct {
	bucket, key string
	value       []byte
	revision    uint64
	created     time.Time
	delta       uint64
	op          jetstream.KeyValueOp
}

func (e *watchedEntry) Bucket() string                  { return e.bucket }
func (e *watchedEntry) Key() string                     { return e.key }
func (e *watchedEntry) Value() []byte                   { return e.value }
func (e *watchedEntry) Revision() uint64                { return e.revision }
func (e *watchedEntry) Created() time.Time              { return e.created }
func (e *watchedEntry) Delta() uint64                   { return e.delta }
func (e *watchedEntry) Operation() jetstream.KeyValueOp { return e.op }
