package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parkway/parkway/gateway/dr"
)

// leadLoop campaigns for the lease, renews it while it holds it, and meanwhile does
// the leader's work every Tick and on every change. The lease is the leader key,
// created if absent and renewed with its revision; the bucket's TTL drops it when its
// holder stops renewing, so NATS decides who leads, never a vote of ours.
func (d *DR) leadLoop(ctx context.Context) {
	name := []byte(d.node.Name())
	var leaseRev uint64
	var renewedAt, shedAt time.Time
	leading := false
	t := time.NewTicker(d.cfg.Tick)
	defer t.Stop()
	for {
		now := time.Now()
		switch {
		case !leading:
			rev, err := d.leaseKV.Create(ctx, keyLeader, name)
			if err == nil {
				leading, leaseRev, renewedAt = true, rev, now
				d.log.Info("cluster: this gateway leads the DR phase", "lease_revision", rev)
			}
		case now.Sub(renewedAt) >= d.cfg.LeaseTTL/3:
			rev, err := d.leaseKV.Update(ctx, keyLeader, name, leaseRev)
			switch {
			case err == nil:
				leaseRev, renewedAt = rev, now
			case errors.Is(err, jetstream.ErrKeyExists) || now.Sub(renewedAt) >= d.cfg.LeaseTTL:
				// Someone else holds it, or ours may have lapsed: stop leading.
				leading = false
				d.log.Warn("cluster: lost the DR lease", "error", err)
			}
		}
		if leading {
			if now.Sub(shedAt) >= 2*time.Second {
				shedAt = now
				d.shedStreamLeadership(ctx)
			}
			d.lead(ctx)
		}
		select {
		case <-ctx.Done():
			if leading {
				// Hand over at once rather than after the TTL.
				dctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_ = d.leaseKV.Delete(dctx, keyLeader, jetstream.LastRevision(leaseRev))
				cancel()
			}
			return
		case <-t.C:
		case <-d.leadCh:
		}
	}
}

// shedStreamLeadership moves the Raft leadership of the DR buckets (and JetStream's
// meta group) away from this gateway's embedded node. The DR leader is the gateway
// most worth killing in a test and most likely to be restarted: if its node also led
// the buckets, its death would stall them for Raft's election timeout (4–9 s), longer
// than the lease. Only with clustered embedded nodes.
func (d *DR) shedStreamLeadership(ctx context.Context) {
	for _, stream := range []string{"", "KV_" + bucketPhase, "KV_" + bucketLease, "KV_" + bucketGateways} {
		if d.node.leadsStream(ctx, stream) {
			if err := d.node.stepDown(ctx, stream); err != nil {
				d.log.Debug("cluster: stream leader step-down", "stream", stream, "error", err)
			}
		}
	}
}

// lead is the leader's work: turn the live gateways' reports into the machine's
// events, and write the result with the revision it was computed from. A write that
// loses to a concurrent one (an admin's) is dropped: the watch brings the winner and
// the next round starts from it.
func (d *DR) lead(ctx context.Context) {
	now := time.Now()
	d.mu.Lock()
	rec, rev := d.rec, d.rev
	live := d.liveLocked(now)
	d.mu.Unlock()
	if _, ok := live[d.node.Name()]; !ok || rev == 0 {
		return // not even our own report is in: we know nothing yet
	}
	next := rec
	by := d.node.Name() + " leader"
	down := [2]dr.Event{dr.EventHomeDown, dr.EventBackupDown}
	up := [2]dr.Event{dr.EventHomeUp, dr.EventBackupUp}
	for i := range 2 {
		v, detail := judge(live, i)
		healthy := next.State.HomeHealthy
		if i == 1 {
			healthy = next.State.BackupHealthy
		}
		var e dr.Event
		switch {
		case v == majorityDown && (healthy || !next.Probed[i]):
			e = down[i]
		case v == majorityUp && (!healthy || !next.Probed[i]):
			e = up[i]
		default:
			continue
		}
		n, err := next.apply(e, now, by)
		if err != nil {
			d.log.Error("cluster: health event refused", "event", e, "error", err) // Next takes them all
			continue
		}
		n.Probed[i], n.Detail[i] = true, detail
		next = n
	}
	if role := next.State.MovingTo(); role != "" && allMoved(live, d.poolName(role), next.MoveGen) {
		e := dr.EventRedirected
		if role == dr.RoleHome {
			e = dr.EventFailbackDone
		}
		if n, err := next.apply(e, now, by); err == nil {
			next = n
		} else {
			d.log.Error("cluster: redirection finished in an unexpected state", "error", err)
		}
	}
	if next == rec {
		return
	}
	b, err := json.Marshal(next)
	if err != nil {
		return
	}
	newRev, err := d.phaseKV.Update(ctx, keyPhase, b, rev)
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) && ctx.Err() == nil {
			d.log.Warn("cluster: writing the phase", "error", err)
		}
		return
	}
	d.mu.Lock()
	d.takeLocked(next, newRev)
	d.mu.Unlock()
}

// allMoved: every live gateway reports its users on pool for redirection gen.
func allMoved(live map[string]report, pool string, gen uint64) bool {
	for _, r := range live {
		if r.MovedTo != pool || r.MoveGen != gen {
			return false
		}
	}
	return len(live) > 0
}
