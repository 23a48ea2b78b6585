package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parkway/parkway/gateway/dr"
)

// leadLoop does the leader's work every Tick and on every change while this gateway
// holds the lease (leaseLoop) — in a goroutine of its own, so that the lease's
// replicated writes and the Raft step-downs never delay the phase.
func (d *DR) leadLoop(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { d.leaseLoop(ctx) })
	wg.Go(func() { d.shedLoop(ctx) })
	t := time.NewTicker(d.cfg.Tick)
	defer t.Stop()
	for {
		if d.leading.Load() {
			d.lead(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.leadCh:
		}
	}
}

// leaseLoop campaigns for the lease every Tick and renews it while it holds it. The
// lease is the leader key: created if absent, renewed with its revision every
// LeaseTTL/4, and taken over with a compare-and-set on the revision a challenger has
// seen unchanged for LeaseTTL (the bucket's TTL drops it too, later). NATS decides
// every race, never a vote of ours; a leader that cannot renew for LeaseTTL stops
// leading before anyone may take over, and should two lead for a moment, their phase
// writes are compare-and-sets as well.
func (d *DR) leaseLoop(ctx context.Context) {
	var l lease
	t := time.NewTicker(d.cfg.Tick)
	defer t.Stop()
	for {
		now := time.Now()
		if !l.leading {
			d.campaign(ctx, &l, now)
		} else if now.Sub(l.renewedAt) >= d.cfg.LeaseTTL/4 {
			d.renew(ctx, &l, now)
		}
		d.leading.Store(l.leading)
		select {
		case <-ctx.Done():
			if l.leading {
				// Hand over at once rather than after the TTL.
				dctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_ = d.leaseKV.Delete(dctx, keyLeader, jetstream.LastRevision(l.rev))
				cancel()
			}
			return
		case <-t.C:
		}
	}
}

// shedLoop, every half second while this gateway leads (so within one of it taking
// the lease), moves the buckets' Raft leadership off its node (shedStreamLeadership).
func (d *DR) shedLoop(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if d.leading.Load() {
			d.shedStreamLeadership(ctx)
		}
	}
}

// lease is leadLoop's view of the leader key.
type lease struct {
	leading   bool
	rev       uint64    // the key's revision: ours while leading, else the last seen
	renewedAt time.Time // ours: when we last wrote it; else when rev was first seen
}

// campaign reads the lease (from this gateway's own replica: no Raft leader needed)
// and takes it when it is absent or stale.
func (d *DR) campaign(ctx context.Context, l *lease, now time.Time) {
	name := []byte(d.node.Name())
	rctx, cancel := context.WithTimeout(ctx, d.cfg.LeaseTTL)
	defer cancel()
	e, err := d.leaseKV.Get(rctx, keyLeader)
	var rev uint64
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
		rev, err = d.leaseKV.Create(rctx, keyLeader, name)
	case err != nil:
		return
	case e.Revision() != l.rev:
		l.rev, l.renewedAt = e.Revision(), now
		d.mu.Lock()
		d.leader, d.leaderAt = string(e.Value()), now
		d.mu.Unlock()
		return
	case now.Sub(l.renewedAt) < d.cfg.LeaseTTL:
		return
	default:
		// Not renewed for a whole TTL: its holder is gone (or has stopped leading).
		rev, err = d.leaseKV.Update(rctx, keyLeader, name, e.Revision())
	}
	if err != nil {
		return // another won; the next read shows whom
	}
	*l = lease{leading: true, rev: rev, renewedAt: now}
	d.mu.Lock()
	d.leader, d.leaderAt = d.node.Name(), now
	d.mu.Unlock()
	d.log.Info("cluster: this gateway leads the DR phase", "lease_revision", rev)
}

// renew writes the lease again with the revision this gateway holds; it stops leading
// when that is refused or it could not renew for a whole TTL.
func (d *DR) renew(ctx context.Context, l *lease, now time.Time) {
	rctx, cancel := context.WithTimeout(ctx, d.cfg.LeaseTTL/2)
	defer cancel()
	rev, err := d.leaseKV.Update(rctx, keyLeader, []byte(d.node.Name()), l.rev)
	switch {
	case err == nil:
		l.rev, l.renewedAt = rev, now
		d.mu.Lock()
		d.leaderAt = now
		d.mu.Unlock()
	case errors.Is(err, jetstream.ErrKeyExists) || now.Sub(l.renewedAt) >= d.cfg.LeaseTTL:
		// Someone else holds it, or ours may have lapsed: stop leading.
		*l = lease{}
		d.mu.Lock()
		d.leader = ""
		d.mu.Unlock()
		if ctx.Err() == nil {
			d.log.Warn("cluster: lost the DR lease", "error", err)
		}
	}
}

// shedStreamLeadership moves the Raft leadership of the DR buckets (and JetStream's
// meta group) away from this gateway's embedded node. The DR leader is the gateway
// most worth killing in a test and most likely to be restarted: if its node also led
// the buckets, its death would stall them for Raft's election timeout (4–9 s), longer
// than the lease. Only with clustered embedded nodes.
func (d *DR) shedStreamLeadership(ctx context.Context) {
	for _, stream := range []string{"", "KV_" + bucketPhase, "KV_" + bucketLease, "KV_" + bucketGateways, "KV_" + bucketDialogs} {
		if d.node.leadsStream(ctx, stream) {
			if err := d.node.stepDown(ctx, stream); err != nil {
				d.log.Debug("cluster: stream leader step-down", "stream", stream, "error", err)
			}
		}
	}
}

// lead is the leader's work: turn the live gateways' reports into the machine's
// events, make the automatic failover or failback that is due (phaseRecord.autoEvent:
// its deadline is in the record, so a new leader keeps the old one's), and write the
// result with the revision it was computed from. A write that
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
	if e, origin := next.autoEvent(now, d.cfg.DR.AutoFailoverAfter, d.cfg.DR.AutoFailbackAfter); e != "" {
		if n, err := next.apply(e, now, d.node.Name()+" "+origin); err == nil {
			next = n
		} else {
			d.log.Debug("cluster: automatic transition refused", "event", e, "error", err)
		}
	}
	if next == rec {
		return
	}
	b, err := json.Marshal(next)
	if err != nil {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, d.cfg.LeaseTTL)
	defer cancel()
	newRev, err := d.phaseKV.Update(wctx, keyPhase, b, rev)
	if errors.Is(err, jetstream.ErrKeyExists) {
		// Another write came first and our watch has not brought it yet (its consumer
		// may be starting again on a live node): read it, the next round starts there.
		if e, gerr := d.phaseKV.Get(wctx, keyPhase); gerr == nil {
			d.phaseChanged(e)
		}
		return
	}
	if err != nil {
		if ctx.Err() == nil {
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
