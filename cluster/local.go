package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parkway/parkway/gateway/admin"
	"github.com/parkway/parkway/gateway/dr"
)

// This file is one gateway's side of the cluster's DR: moving its own users where the
// phase wants them, the Snapshot its tabs and admin API see, and admin requests.

func (d *DR) poolName(r dr.Role) string {
	if r == dr.RoleBackup {
		return d.cfg.DR.Backup.Name
	}
	return d.cfg.DR.Home.Name
}

// wantLocked is the pool this gateway's users must be on now: where the phase moves
// them, else where it says they are.
func (d *DR) wantLocked() string {
	if r := d.rec.State.MovingTo(); r != "" {
		return d.poolName(r)
	}
	return d.poolName(d.rec.State.UsersOn())
}

// steerLocked keeps one redirection of this gateway's users running towards
// wantLocked, for the phase record's MoveGen, and none once they are there. A gateway
// that joins a cluster already failed over moves its users to the backup this way.
func (d *DR) steerLocked() {
	to, gen := d.wantLocked(), d.rec.MoveGen
	moving := d.rec.State.MovingTo() != ""
	done := d.local.MovedTo == to && (!moving || d.local.MoveGen == gen)
	if done || (d.move.to == to && d.move.gen == gen) {
		if done {
			d.stopMoveLocked()
		}
		return
	}
	d.stopMoveLocked()
	if !d.running {
		return
	}
	if d.cfg.DR.Redirector == nil {
		d.local.MovedTo, d.local.MoveGen = to, gen
		return
	}
	ctx, cancel := context.WithCancel(d.runCtx)
	d.move = localMove{to: to, gen: gen, cancel: cancel}
	d.moves.Go(func() { d.redirect(ctx, to, gen) })
}

func (d *DR) stopMoveLocked() {
	if d.move.cancel != nil {
		d.move.cancel()
	}
	d.move = localMove{}
}

// redirect moves this gateway's users to pool until it succeeds, backing off from
// 250 ms to 5 s, then reports them moved.
func (d *DR) redirect(ctx context.Context, pool string, gen uint64) {
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := d.cfg.DR.Redirector.Redirect(ctx, pool)
		d.cfg.DR.Metrics.Redirected(pool, time.Since(start), err)
		if ctx.Err() != nil {
			return
		}
		d.mu.Lock()
		if d.move.to != pool || d.move.gen != gen {
			d.mu.Unlock()
			return
		}
		if err == nil {
			d.move = localMove{}
			d.local.MovedTo, d.local.MoveGen = pool, gen
			d.publishLocked()
			d.poke()
			d.mu.Unlock()
			d.log.Info("dr: this gateway's users redirected", "to", pool, "attempts", attempt)
			return
		}
		d.move.err = fmt.Sprintf("attempt %d: %v", attempt, err)
		d.publishLocked()
		d.mu.Unlock()
		d.log.Warn("dr: redirection failed; retrying", "to", pool, "attempt", attempt, "retry_in", backoff, "error", err)
		sleep(ctx, backoff)
		if ctx.Err() != nil {
			return
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// buildLocked is the Snapshot of the cluster's phase with this gateway's redirection,
// without Seq.
func (d *DR) buildLocked() dr.Snapshot {
	s := d.rec.State
	pools := make([]dr.PoolStatus, 2)
	for i, p := range []dr.Pool{d.cfg.DR.Home, d.cfg.DR.Backup} {
		healthy, role := s.HomeHealthy, dr.RoleHome
		if i == 1 {
			healthy, role = s.BackupHealthy, dr.RoleBackup
		}
		pools[i] = dr.PoolStatus{Name: p.Name, Role: string(role), Healthy: healthy, SIPAddr: p.SIPAddr, Orbits: p.Orbits, SurvivablePark: p.SurvivablePark}
		if !healthy {
			pools[i].Detail = d.rec.Detail[i]
		}
	}
	return dr.Snapshot{
		Phase:             s.Phase,
		HomePool:          d.cfg.DR.Home.Name,
		BackupPool:        d.cfg.DR.Backup.Name,
		ActivePool:        d.poolName(s.UsersOn()),
		Resiliency:        s.Phase.Resiliency(),
		Pools:             pools,
		Since:             d.rec.Since,
		FailoverRequested: s.FailoverRequested,
		Redirecting:       d.move.to,
		RedirectError:     d.move.err,
	}
}

// publishLocked publishes the current Snapshot to subscribers if it changed.
func (d *DR) publishLocked() {
	n := d.buildLocked()
	if sameSnapshot(n, d.snap) {
		return
	}
	n.Seq = d.snap.Seq + 1
	d.snap = n
	d.subs.publishLocked(n)
}

func sameSnapshot(a, b dr.Snapshot) bool {
	return a.Phase == b.Phase && a.HomePool == b.HomePool && a.BackupPool == b.BackupPool &&
		a.ActivePool == b.ActivePool && a.Resiliency == b.Resiliency && a.Since.Equal(b.Since) &&
		a.FailoverRequested == b.FailoverRequested && a.Redirecting == b.Redirecting &&
		a.RedirectError == b.RedirectError && slices.Equal(a.Pools, b.Pools)
}

// Snapshot returns the cluster's DR state as this gateway shows it: a private copy.
func (d *DR) Snapshot() dr.Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.snap
	s.Pools = slices.Clone(s.Pools)
	return s
}

// Subscribe is dr.Controller.Subscribe's contract for the cluster's state.
func (d *DR) Subscribe(fn func(dr.Snapshot)) (cancel func()) {
	d.mu.Lock()
	snap := d.snap
	d.mu.Unlock()
	return d.subs.subscribe(fn, snap)
}

// OnParkPoolDown is dr.Controller.OnParkPoolDown for the cluster's view of the pools:
// a pool goes down when the cluster declares it down, so every gateway hangs up (or
// re-parks) its own users' parked calls on it.
func (d *DR) OnParkPoolDown(fn func(pool, reparkTo string)) (cancel func()) {
	healthy := map[string]bool{} // only fn's calls touch it, and they never overlap
	return d.Subscribe(func(s dr.Snapshot) {
		for _, p := range s.Pools {
			if healthy[p.Name] && !p.Healthy {
				fn(p.Name, s.ReparkTarget(p.Name))
			}
			healthy[p.Name] = p.Healthy
		}
	})
}

// Failover is dr.Controller.Failover for the cluster, on whichever gateway is asked.
func (d *DR) Failover(ctx context.Context) (dr.Snapshot, error) {
	return d.request(ctx, dr.EventFailover)
}

// Failback is dr.Controller.Failback for the cluster.
func (d *DR) Failback(ctx context.Context) (dr.Snapshot, error) {
	return d.request(ctx, dr.EventFailback)
}

// request applies an admin's event to the phase as stored now, and writes it only if
// nothing changed it meanwhile (compare-and-set on the revision): of two admin requests
// at once, one is refused with a *dr.TransitionError (409 from the admin API). A change
// the leader made meanwhile (a health event, a redirection done) is not an admin's: the
// request is applied again to the newer phase, as dr.Controller applies an admin's
// event after whatever its prober did before it.
func (d *DR) request(ctx context.Context, e dr.Event) (dr.Snapshot, error) {
	d.mu.Lock()
	running := d.running
	d.mu.Unlock()
	if !running {
		return d.Snapshot(), dr.ErrNotRunning
	}
	const attempts = 20 // the leader writes a few times per phase change, not forever
	for attempt := 1; ; attempt++ {
		rec, readRev, err := d.readPhase(ctx)
		if err != nil {
			return d.Snapshot(), err
		}
		next, err := rec.apply(e, time.Now(), d.node.Name()+adminOrigin)
		if err != nil {
			d.mu.Lock()
			d.takeLocked(rec, readRev)
			d.mu.Unlock()
			return d.Snapshot(), err
		}
		b, err := json.Marshal(next)
		if err != nil {
			return d.Snapshot(), err
		}
		if d.beforeWrite != nil {
			d.beforeWrite()
		}
		rev, err := d.phaseKV.Update(ctx, keyPhase, b, readRev)
		if errors.Is(err, jetstream.ErrKeyExists) {
			if attempt < attempts {
				if now, _, rerr := d.readPhase(ctx); rerr == nil && !strings.HasSuffix(now.By, adminOrigin) {
					continue
				}
			}
			return d.Snapshot(), &dr.TransitionError{From: rec.State.Phase, Event: e,
				Reason: fmt.Sprintf("the phase changed (revision %d) while this request was being applied: look at the state again", readRev)}
		}
		if err != nil {
			return d.Snapshot(), fmt.Errorf("cluster: writing the phase: %w", err)
		}
		d.mu.Lock()
		d.takeLocked(next, rev)
		d.mu.Unlock()
		return d.Snapshot(), nil
	}
}

// adminOrigin ends the phase record's By when an admin request wrote it.
const adminOrigin = " admin"

// readPhase reads the phase record as stored now, and its revision.
func (d *DR) readPhase(ctx context.Context) (phaseRecord, uint64, error) {
	var rec phaseRecord
	entry, err := d.phaseKV.Get(ctx, keyPhase)
	if err != nil {
		return rec, 0, fmt.Errorf("cluster: reading the phase: %w", err)
	}
	if err := json.Unmarshal(entry.Value(), &rec); err != nil {
		return rec, 0, fmt.Errorf("cluster: reading the phase: %w", err)
	}
	return rec, entry.Revision(), nil
}

// ClusterStatus is the "cluster" object of GET /api/dr: this gateway, how many are
// alive, and which leads.
func (d *DR) ClusterStatus() admin.ClusterStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	cs := admin.ClusterStatus{Gateway: d.node.Name(), Members: len(d.liveLocked(now)), Revision: d.rev}
	if d.leader != "" && now.Sub(d.leaderAt) < d.cfg.LeaseTTL {
		cs.Leader = d.leader
	}
	return cs
}

// Revision is the phase key's revision this gateway shows (0 before the first read).
func (d *DR) Revision() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rev
}

// probeLines passes on the local prober's lines but its phase changes: its phase is
// not the cluster's (DR logs the cluster's).
type probeLines struct{ slog.Handler }

func (p probeLines) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "dr: phase change" {
		return nil
	}
	return p.Handler.Handle(ctx, r)
}
func (p probeLines) WithAttrs(a []slog.Attr) slog.Handler { return probeLines{p.Handler.WithAttrs(a)} }
func (p probeLines) WithGroup(n string) slog.Handler      { return probeLines{p.Handler.WithGroup(n)} }
