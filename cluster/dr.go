package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/signaling"
)

// Buckets and keys of the shared DR state.
const (
	bucketPhase    = "parkway_dr"
	bucketLease    = "parkway_lease"
	bucketGateways = "parkway_gateways"
	keyPhase       = "phase"
	keyLeader      = "leader"
)

// Defaults for DRConfig's zero values: the leader renews its lease every quarter of
// DefaultLeaseTTL; a lease not renewed for DefaultLeaseTTL is taken over by the first
// gateway to see it stale (they look every DefaultTick), so a new leader leads about
// 1.1–1.3 s after the old one died; a gateway whose report is older than
// DefaultReportTTL is not counted (it refreshes every DefaultReportEvery).
const (
	DefaultLeaseTTL    = 1000 * time.Millisecond
	DefaultReportTTL   = 2 * time.Second
	DefaultReportEvery = 400 * time.Millisecond
	DefaultTick        = 100 * time.Millisecond
)

// DRConfig configures a DR.
type DRConfig struct {
	// DR names the pools, probes them and moves this gateway's users (its Redirector).
	// Its AutoFailoverAfter and AutoFailbackAfter are the leader's to apply, with
	// dr.Controller's rules, to the cluster's phase.
	DR       dr.Config
	LeaseTTL time.Duration
	// ReportTTL and ReportEvery: how old a gateway's report may be and still count,
	// and how often each gateway refreshes its own.
	ReportTTL   time.Duration
	ReportEvery time.Duration
	Tick        time.Duration
}

// DR is the disaster-recovery state of the whole cluster as one gateway sees and
// drives it. It stands in for a *dr.Controller: the gateway (gateway.Controller), the
// admin API (admin.Controller) and cmd's wiring (Run, OnParkPoolDown) use it the same
// way.
//
// Concurrency: mu guards the fields below it. Goroutines (Run): the local prober's
// controller, the watchers of the phase and gateways keys, the report loop,
// the lease loop (which also does the leader's work), and at most one redirection.
type DR struct {
	node *Node
	cfg  DRConfig
	log  *slog.Logger
	// phaseLog logs phase changes as dr.Controller does (component=dr), so that one
	// grep finds them whichever of the two runs.
	phaseLog *slog.Logger
	// probe is this gateway's own prober: a dr.Controller with nothing to redirect,
	// whose snapshots are only read for the pools' health.
	probe *dr.Controller

	phaseKV, leaseKV, gatewaysKV jetstream.KeyValue

	moves sync.WaitGroup // this gateway's redirections
	// leading: this gateway holds the lease (leaseLoop's, read by the leader's work).
	leading atomic.Bool
	// beforeWrite, in tests, runs between an admin request's read and its write.
	beforeWrite func()

	mu       sync.Mutex
	running  bool
	runCtx   context.Context
	rec      phaseRecord
	rev      uint64 // the phase key's revision rec was read at; 0 before the first
	reports  map[string]timedReport
	leader   string    // the lease key's holder, as last read
	leaderAt time.Time // when this gateway last saw the lease renewed
	local    report    // what this gateway reports
	move     localMove
	snap     dr.Snapshot
	subs     subscribers
	// reportCh and leadCh poke the report loop and the leader: something changed.
	reportCh, leadCh chan struct{}
}

type timedReport struct {
	report
	at time.Time
}

// localMove is this gateway's redirection of its own users.
type localMove struct {
	to     string // the pool, "" when none runs
	gen    uint64 // the phase record's MoveGen it serves
	cancel context.CancelFunc
	err    string
}

// NewDR returns the cluster's DR state for this gateway on node. Nothing runs before
// Run.
func NewDR(node *Node, cfg DRConfig) (*DR, error) {
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.ReportTTL <= 0 {
		cfg.ReportTTL = DefaultReportTTL
	}
	if cfg.ReportEvery <= 0 {
		cfg.ReportEvery = DefaultReportEvery
	}
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
	}
	log := cfg.DR.Logger
	if log == nil {
		log = slog.Default()
	}
	probeCfg := cfg.DR
	probeCfg.Redirector, probeCfg.Metrics = nil, nil
	// The local controller's own phase is meaningless here: its phase changes are not
	// logged; its other lines (a pool down or healthy, a watch connection closed, as
	// this gateway sees it) are the ones dr.Controller logs.
	probeCfg.Logger = slog.New(probeLines{log.Handler()}).With("probe", node.Name())
	probe, err := dr.New(probeCfg)
	if err != nil {
		return nil, err
	}
	d := &DR{
		node: node, cfg: cfg, probe: probe,
		log:      log.With("component", "cluster-dr", "gateway", node.Name()),
		phaseLog: log.With("component", "dr"),
		reports:  map[string]timedReport{},
		reportCh: make(chan struct{}, 1), leadCh: make(chan struct{}, 1),
		rec: phaseRecord{State: dr.State{Phase: signaling.PhaseNormal}, Since: time.Now(), Detail: [2]string{notProbed, notProbed}},
	}
	d.subs.init(&d.mu)
	d.snap = d.buildLocked()
	d.snap.Seq = 1
	cfg.DR.Metrics.Phase(d.rec.State.Phase)
	return d, nil
}

// notProbed is the Detail a dr.Controller gives a pool it has not probed yet (the
// cluster tests check it still does).
const notProbed = "not probed yet"

// Run joins the cluster's DR until ctx ends. It returns an error if the buckets cannot
// be opened within a minute.
func (d *DR) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	openCtx, openCancel := context.WithTimeout(ctx, time.Minute)
	defer openCancel()
	var err error
	if d.phaseKV, err = d.node.Bucket(openCtx, bucketPhase, 0); err != nil {
		return err
	}
	if d.leaseKV, err = d.node.Bucket(openCtx, bucketLease, d.cfg.LeaseTTL); err != nil {
		return err
	}
	if d.gatewaysKV, err = d.node.Bucket(openCtx, bucketGateways, d.cfg.ReportTTL); err != nil {
		return err
	}
	if err := d.initPhase(openCtx); err != nil {
		return err
	}
	d.mu.Lock()
	d.running, d.runCtx = true, ctx
	d.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() { _ = d.probe.Run(ctx) })
	cancelProbe := d.probe.Subscribe(d.probed)
	wg.Go(func() { d.watch(ctx, d.phaseKV, keyPhase, d.phaseChanged) })
	wg.Go(func() { d.watch(ctx, d.gatewaysKV, ">", d.reportChanged) })
	wg.Go(func() { d.reportLoop(ctx) })
	wg.Go(func() { d.leadLoop(ctx) })
	<-ctx.Done()
	cancelProbe()
	d.mu.Lock()
	d.running = false
	if d.move.cancel != nil {
		d.move.cancel()
	}
	d.mu.Unlock()
	wg.Wait()
	d.moves.Wait()
	d.subs.wait()
	return nil
}

// initPhase creates the phase key in phase normal unless it exists.
func (d *DR) initPhase(ctx context.Context) error {
	d.mu.Lock()
	b, _ := json.Marshal(d.rec)
	d.mu.Unlock()
	for {
		_, err := d.phaseKV.Create(ctx, keyPhase, b)
		if err == nil || errors.Is(err, jetstream.ErrKeyExists) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: creating the phase key: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// watch calls fn with every value of key (a pattern) in kv until ctx ends, watching
// again after an error (watchKV: a watch that survives its consumer's node).
func (d *DR) watch(ctx context.Context, kv jetstream.KeyValue, key string, fn func(jetstream.KeyValueEntry)) {
	for ctx.Err() == nil {
		if err := watchKV(ctx, d.node.js, kv, key, fn); err != nil && ctx.Err() == nil {
			d.log.Warn("cluster: watch failed; retrying", "key", key, "error", err)
			sleep(ctx, 250*time.Millisecond)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (d *DR) poke() {
	for _, ch := range []chan struct{}{d.reportCh, d.leadCh} {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// probed takes the local prober's view of the pools into this gateway's report.
func (d *DR) probed(s dr.Snapshot) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, p := range s.Pools[:2] {
		v := poolView{Probed: p.Healthy || p.Detail != notProbed, Healthy: p.Healthy, Detail: p.Detail}
		if old := d.local.Pools[i]; v.Probed && (!old.Probed || old.Healthy != v.Healthy) {
			// The gauge dr.Controller sets on its health events: this gateway's view.
			d.cfg.DR.Metrics.PoolHealth(p.Name, [2]string{"home", "backup"}[i], v.Healthy)
		}
		d.local.Pools[i] = v
	}
	d.poke()
}

// phaseChanged takes a new phase record: publish it to the tabs and steer this
// gateway's redirection.
func (d *DR) phaseChanged(e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		return
	}
	var rec phaseRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		d.log.Error("cluster: unreadable phase record", "revision", e.Revision(), "error", err)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.takeLocked(rec, e.Revision())
}

// takeLocked makes rec, read or written at revision rev, the phase this gateway
// shows, unless it already has a newer one.
func (d *DR) takeLocked(rec phaseRecord, rev uint64) {
	if rev <= d.rev {
		return
	}
	prev, first := d.rec.State.Phase, d.rev == 0
	d.rec, d.rev = rec, rev
	switch {
	case prev == rec.State.Phase:
	case first:
		// Joining a cluster in another phase is not a transition this gateway made.
		d.phaseLog.Info("dr: joined in phase", "phase", rec.State.Phase, "by", rec.By, "gateway", d.node.Name(), "revision", rev)
		d.cfg.DR.Metrics.Phase(rec.State.Phase)
	default:
		d.phaseLog.Info("dr: phase change", "from", prev, "to", rec.State.Phase, "event", rec.PhaseEvent, "by", rec.By, "gateway", d.node.Name(), "revision", rev)
		d.cfg.DR.Metrics.Transition(prev, rec.State.Phase, string(rec.PhaseEvent))
	}
	d.steerLocked()
	d.publishLocked()
	d.poke()
}

func (d *DR) reportChanged(e jetstream.KeyValueEntry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(d.reports, e.Key())
		return
	}
	var r report
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		d.log.Error("cluster: unreadable gateway report", "gateway", e.Key(), "error", err)
		return
	}
	d.reports[e.Key()] = timedReport{r, e.Created()}
	d.poke()
}

// liveLocked is the reports of the gateways alive now (refreshed within ReportTTL).
func (d *DR) liveLocked(now time.Time) map[string]report {
	live := map[string]report{}
	for name, r := range d.reports {
		if now.Sub(r.at) < d.cfg.ReportTTL {
			live[name] = r.report
		}
	}
	return live
}

// reportLoop writes this gateway's report on every change and every ReportEvery.
func (d *DR) reportLoop(ctx context.Context) {
	t := time.NewTicker(d.cfg.ReportEvery)
	defer t.Stop()
	var last []byte
	lastAt := time.Time{}
	for {
		d.mu.Lock()
		b, _ := json.Marshal(d.local)
		d.mu.Unlock()
		if !slices.Equal(b, last) || time.Since(lastAt) >= d.cfg.ReportEvery {
			if _, err := d.gatewaysKV.Put(ctx, d.node.Name(), b); err != nil {
				if ctx.Err() != nil {
					return
				}
				d.log.Warn("cluster: publishing this gateway's report", "error", err)
			} else {
				last, lastAt = b, time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.reportCh:
		}
	}
}
