package cluster

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parkway/parkway/gateway/ua"
)

// Calls that survive their gateway (issue #11 item 5, ARCHITECTURE.md §9).
//
// Every gateway writes the dialog of each of its established calls to the dialogs
// bucket whenever it changes (ua.DialogSink: key dlg.GATEWAY.CALL, deleted when the
// call ends). Every gateway also watches the bucket, and a gateway whose report in
// the gateways bucket has not been refreshed for ReportTTL and two refreshes more,
// while this gateway's own report was refreshed all along (so the bucket took
// writes: a JetStream stall leaves every report stale, live gateways' too), is dead:
// its calls are orphans. Exactly one survivor adopts each: the dead gateway's
// successor (the next live gateway by name, wrapping around — the gateway a client
// tries next in its list of URLs) claims it at once, any other after claimDelay in
// case the successor is stuck; a claim is a create-if-absent of claim.GATEWAY.CALL,
// so two claims cannot both win. The winner carries the call on (the Adopt hook:
// a re-INVITE in the same dialog toward its own media, gateway/ua adopt.go), writes
// it under its own name, and deletes the orphan's record and the claim.
//
// A gateway that restarts under its old name adopts the calls its former life left
// (they carry another Instance).

const (
	bucketDialogs = "parkway_dialogs"
	dialogPrefix  = "dlg."
	claimPrefix   = "claim."
)

// Defaults for DialogsConfig.
const (
	// DefaultScanEvery is how often orphans are looked for.
	DefaultScanEvery = 200 * time.Millisecond
	// DefaultClaimDelay is how long a gateway other than the dead one's successor
	// waits before claiming an orphan itself, in case the successor is stuck. It is
	// long: the bucket's own Raft election after the death (when the dead gateway's
	// node led it) holds every claim up for seconds, and a shorter delay let another
	// gateway win the race against the successor, where the user's tab, moving to the
	// next gateway of its list, could not find the call.
	DefaultClaimDelay = 30 * time.Second
	// adoptTimeout bounds one adoption (a re-INVITE and its answer).
	adoptTimeout = 30 * time.Second
)

// DialogsConfig configures Dialogs.
type DialogsConfig struct {
	// Adopt carries on a dead gateway's call on this gateway (gateway.Server.Adopt).
	// Required.
	Adopt func(ctx context.Context, rec ua.DialogRecord) error
	// ScanEvery and ClaimDelay: zero means DefaultScanEvery and DefaultClaimDelay.
	ScanEvery  time.Duration
	ClaimDelay time.Duration
	Logger     *slog.Logger
}

// dialogEntry is the value of a dlg. key.
type dialogEntry struct {
	Gateway  string          `json:"gateway"`
	Instance string          `json:"instance"`
	Record   ua.DialogRecord `json:"record"`
}

// Dialogs keeps this gateway's established calls in the cluster and adopts the calls
// of gateways that died. It is the ua.DialogSink of this gateway's user agent.
//
// Goroutines (Run): the writer, the watcher of the bucket, the orphan scan, and one
// per adoption in progress. mu guards the fields below it; it is a leaf (the DR's
// lock is taken only outside it, by the scan).
type Dialogs struct {
	node     *Node
	dr       *DR
	cfg      DialogsConfig
	log      *slog.Logger
	instance string
	kv       jetstream.KeyValue
	wake     chan struct{}
	adopting sync.WaitGroup

	mu      sync.Mutex
	pending map[string]*dialogEntry // keys to write (nil: delete), newest wins
	written map[string]bool         // keys this gateway has written and not deleted
	known   map[string]dialogEntry  // every dlg. key in the bucket, as watched
	orphans map[string]time.Time    // dead gateways' keys, since when seen so
	handled map[string]bool         // orphans this gateway claimed or lost the claim of
}

var _ ua.DialogSink = (*Dialogs)(nil)

// NewDialogs returns this gateway's share of the cluster's calls; d tells it which
// gateways are alive. Nothing runs before Run; what Save writes meanwhile waits.
func NewDialogs(node *Node, d *DR, cfg DialogsConfig) (*Dialogs, error) {
	if cfg.Adopt == nil {
		return nil, errors.New("cluster: dialogs: an Adopt hook is required")
	}
	if !validKey(node.Name()) {
		return nil, errors.New("cluster: dialogs: the gateway name " + node.Name() + " cannot be a key (letters, digits, - _ =)")
	}
	if cfg.ScanEvery <= 0 {
		cfg.ScanEvery = DefaultScanEvery
	}
	if cfg.ClaimDelay <= 0 {
		cfg.ClaimDelay = DefaultClaimDelay
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	var b [8]byte
	_, _ = crand.Read(b[:])
	return &Dialogs{
		node: node, dr: d, cfg: cfg, instance: hex.EncodeToString(b[:]),
		log:     log.With("component", "cluster-dialogs", "gateway", node.Name()),
		wake:    make(chan struct{}, 1),
		pending: map[string]*dialogEntry{}, written: map[string]bool{}, known: map[string]dialogEntry{},
		orphans: map[string]time.Time{}, handled: map[string]bool{},
	}, nil
}

func (d *Dialogs) key(callID string) string { return dialogPrefix + d.node.Name() + "." + callID }

// Save implements ua.DialogSink: the call's record is written soon, after any older
// one of the same call.
func (d *Dialogs) Save(rec ua.DialogRecord) {
	if !validKey(rec.ID) {
		d.log.Warn("cluster: a call id that cannot be a key; the call cannot be adopted", "call", rec.ID)
		return
	}
	d.mu.Lock()
	d.pending[d.key(rec.ID)] = &dialogEntry{Gateway: d.node.Name(), Instance: d.instance, Record: rec}
	d.mu.Unlock()
	d.poke()
}

// Drop implements ua.DialogSink: the call ended, its record goes.
func (d *Dialogs) Drop(_, callID string) {
	k := d.key(callID)
	d.mu.Lock()
	_, queued := d.pending[k]
	if d.written[k] || queued {
		d.pending[k] = nil
	}
	d.mu.Unlock()
	d.poke()
}

func (d *Dialogs) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run writes, watches and adopts until ctx ends; it returns an error only if the
// bucket cannot be opened within a minute.
func (d *Dialogs) Run(ctx context.Context) error {
	openCtx, cancel := context.WithTimeout(ctx, time.Minute)
	kv, err := d.node.Bucket(openCtx, bucketDialogs, 0)
	cancel()
	if err != nil {
		return err
	}
	d.kv = kv
	var wg sync.WaitGroup
	wg.Go(func() { d.writeLoop(ctx) })
	wg.Go(func() { d.dr.watch(ctx, kv, dialogPrefix+">", d.changed) })
	wg.Go(func() { d.scanLoop(ctx) })
	<-ctx.Done()
	wg.Wait()
	d.adopting.Wait()
	d.forget()
	return nil
}

// forget deletes this gateway's records as it stops cleanly: it hangs up its calls
// next (ua.Manager.Close), and nobody is to adopt them.
func (d *Dialogs) forget() {
	d.mu.Lock()
	keys := make([]string, 0, len(d.written))
	for k := range d.written {
		keys = append(keys, k)
	}
	d.written = map[string]bool{}
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, k := range keys {
		_ = d.kv.Delete(ctx, k)
	}
}

// writeLoop writes what Save and Drop queued; a write that fails is tried again
// unless a newer one replaced it.
func (d *Dialogs) writeLoop(ctx context.Context) {
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-retry.C:
		}
		d.mu.Lock()
		batch := d.pending
		d.pending = map[string]*dialogEntry{}
		d.mu.Unlock()
		for k, e := range batch {
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			var err error
			if e == nil {
				err = d.kv.Delete(wctx, k)
			} else {
				b, _ := json.Marshal(e)
				_, err = d.kv.Put(wctx, k, b)
			}
			cancel()
			d.mu.Lock()
			switch _, newer := d.pending[k]; {
			case err != nil && !newer:
				d.pending[k] = e
			case err == nil && e == nil:
				delete(d.written, k)
			case err == nil:
				if !d.written[k] {
					d.log.Info("cluster: call recorded for adoption", "user", e.Record.User, "call", e.Record.ID)
				}
				d.written[k] = true
			}
			d.mu.Unlock()
			if err != nil && ctx.Err() == nil {
				d.log.Warn("cluster: writing a call's dialog; will retry", "key", k, "error", err)
			}
		}
	}
}

// changed keeps the watched view of the bucket.
func (d *Dialogs) changed(e jetstream.KeyValueEntry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(d.known, e.Key())
		delete(d.orphans, e.Key())
		delete(d.handled, e.Key())
		return
	}
	var de dialogEntry
	if err := json.Unmarshal(e.Value(), &de); err != nil {
		d.log.Error("cluster: unreadable dialog record", "key", e.Key(), "error", err)
		return
	}
	d.known[e.Key()] = de
}

func (d *Dialogs) scanLoop(ctx context.Context) {
	t := time.NewTicker(d.cfg.ScanEvery)
	defer t.Stop()
	var healthySince time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		reports, now := d.dr.reportTimes(), time.Now()
		// Another gateway's stale report means death only while the bucket takes
		// writes: when JetStream stalls (a Raft election after a node died) nobody's
		// report is refreshed, this gateway's own included, and a live gateway would
		// look as dead as the one that died. So orphans are looked for only once this
		// gateway's own report has been fresh for a whole deadAfter — long enough for
		// every live gateway to have written one since — and not at start either.
		if own, ok := reports[d.node.Name()]; !ok || now.Sub(own) >= d.dr.cfg.ReportTTL {
			healthySince = time.Time{}
			continue
		}
		if healthySince.IsZero() {
			healthySince = now
		}
		if now.Sub(healthySince) < d.deadAfter() {
			continue
		}
		var live []string
		for name, at := range reports {
			if now.Sub(at) < d.deadAfter() {
				live = append(live, name)
			}
		}
		d.scan(ctx, live)
	}
}

// deadAfter is how old another gateway's report must be for it to be dead: the
// report's TTL and two refreshes more, so a report that is merely late is not death.
func (d *Dialogs) deadAfter() time.Duration {
	return d.dr.cfg.ReportTTL + 2*d.dr.cfg.ReportEvery
}

// scan claims the orphans this gateway should adopt now and adopts those it won;
// live are the gateways alive.
func (d *Dialogs) scan(ctx context.Context, live []string) {
	me, now := d.node.Name(), time.Now()
	type orphan struct {
		key string
		e   dialogEntry
	}
	var claim []orphan
	d.mu.Lock()
	for k, e := range d.known {
		mine := e.Gateway == me
		dead := mine && e.Instance != d.instance || !mine && !slices.Contains(live, e.Gateway)
		if !dead {
			delete(d.orphans, k)
			continue
		}
		if d.handled[k] {
			continue
		}
		since, seen := d.orphans[k]
		if !seen {
			since = now
			d.orphans[k] = now
		}
		if mine || successor(live, e.Gateway) == me || now.Sub(since) >= d.cfg.ClaimDelay {
			claim = append(claim, orphan{k, e})
			d.handled[k] = true
		}
	}
	d.mu.Unlock()
	for _, o := range claim {
		claimKey := claimPrefix + strings.TrimPrefix(o.key, dialogPrefix)
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := d.kv.Create(cctx, claimKey, []byte(me))
		cancel()
		if err != nil {
			if !errors.Is(err, jetstream.ErrKeyExists) {
				d.log.Warn("cluster: claiming an orphaned call failed; will try again", "key", o.key, "error", err)
				d.mu.Lock()
				delete(d.handled, o.key)
				d.mu.Unlock()
			}
			continue
		}
		d.adopting.Go(func() { d.adopt(ctx, o.key, claimKey, o.e) })
	}
}

// adopt carries on the call of a dead gateway this gateway claimed, then deletes the
// orphan's record and the claim: whether the call lives on here or could not, nobody
// else is to try it again.
func (d *Dialogs) adopt(ctx context.Context, key, claimKey string, e dialogEntry) {
	actx, cancel := context.WithTimeout(ctx, adoptTimeout)
	err := d.cfg.Adopt(actx, e.Record)
	cancel()
	if err != nil {
		d.log.Warn("cluster: could not carry on a failed gateway's call", "from", e.Gateway, "user", e.Record.User, "call", e.Record.ID, "error", err)
	} else {
		d.log.Info("cluster: carried on a failed gateway's call", "from", e.Gateway, "user", e.Record.User, "call", e.Record.ID)
	}
	dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer dcancel()
	_ = d.kv.Delete(dctx, key)
	_ = d.kv.Delete(dctx, claimKey)
}

// successor is the live gateway that adopts dead's calls first: the next live name
// after dead's, wrapping around ("" when none lives).
func successor(live []string, dead string) string {
	if len(live) == 0 {
		return ""
	}
	names := slices.Clone(live)
	slices.Sort(names)
	for _, n := range names {
		if n > dead {
			return n
		}
	}
	return names[0]
}

// reportTimes is when each gateway's report was last written, as this gateway saw.
func (d *DR) reportTimes() map[string]time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]time.Time, len(d.reports))
	for name, r := range d.reports {
		out[name] = r.at
	}
	return out
}
