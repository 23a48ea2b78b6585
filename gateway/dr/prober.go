package dr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// prober sends the health probes: a SIP OPTIONS over UDP (or TLS, Pool.Transport) to each pool (RFC 3261 §11, the
// request every SIP server must answer), one sipgo client per pool on one user agent.
//
// What counts as healthy: any final answer below 500. A 2xx is a working server; a 4xx
// still proves a SIP stack that parses and answers, and the pool decides what it
// accepts. A 5xx or 6xx counts as a miss, like no answer at all — in particular the 503
// a draining pool sends (pool/health.go): draining means "send no new work", and the
// registrations of every user are new work, so a draining home pool fails users over
// just as a dead one does. It takes ProbeMisses of them, so a single 503 from a pool
// briefly overloaded does not move a whole pool's users.
type prober struct {
	ua      *sipgo.UserAgent
	clients [2]*sipgo.Client
	targets [2]sip.Uri
	tps     [2]string // UDP or TLS
	timeout time.Duration
}

func newProber(cfg Config, log *slog.Logger) (*prober, error) {
	sipLog := log.With("component", "dr-prober")
	uaOpts := []sipgo.UserAgentOption{
		sipgo.WithUserAgent("parkway-dr"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sipLog)),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(sipLog),
			// The answer to a probe's earlier OPTIONS that comes after a later one's
			// (probeAttempts), or after the probe gave up, is expected on a slow path.
			sip.WithTransactionLayerUnhandledResponseHandler(func(r *sip.Response) {
				sipLog.Debug("dr: late answer to a probe", "response", r.Short())
			}),
		),
	}
	if cfg.TLS != nil {
		uaOpts = append(uaOpts, sipgo.WithUserAgenTLSConfig(cfg.TLS))
	}
	ua, err := sipgo.NewUA(uaOpts...)
	if err != nil {
		return nil, fmt.Errorf("dr: SIP user agent: %w", err)
	}
	p := &prober{ua: ua, timeout: cfg.ProbeTimeout}
	for i, pool := range []Pool{cfg.Home, cfg.Backup} {
		host, port, err := splitHostPort(pool.SIPAddr)
		if err != nil {
			ua.Close()
			return nil, fmt.Errorf("dr: pool %s: %w", pool.Name, err)
		}
		opts := []sipgo.ClientOption{sipgo.WithClientLogger(sipLog)}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() && ip.To4() != nil {
			// A loopback pool is probed from loopback: the socket is bound to 127.0.0.1,
			// not the wildcard, so Via names an address the pool can answer and no probe
			// can leave the machine.
			opts = append(opts, sipgo.WithClientHostname(host), sipgo.WithClientConnectionAddr(host+":0"))
		} else {
			opts = append(opts, sipgo.WithClientHostname(host))
		}
		cl, err := sipgo.NewClient(ua, opts...)
		if err != nil {
			ua.Close()
			return nil, fmt.Errorf("dr: SIP client for pool %s: %w", pool.Name, err)
		}
		p.clients[i] = cl
		p.targets[i] = sip.Uri{Scheme: "sip", Host: host, Port: port}
		p.tps[i] = "UDP"
		if strings.EqualFold(pool.Transport, "TLS") {
			p.tps[i] = "TLS"
		}
	}
	return p, nil
}

func (p *prober) close() { p.ua.Close() }

// probeAttempts is how many OPTIONS one probe may send: the first at once and, while no
// answer has come, another every ProbeTimeout/probeAttempts (50 ms by default), each a
// transaction of its own, the first answer deciding.
//
// Why: sipgo retransmits a UDP request only after T1 (500 ms), longer than a probe
// waits, so a probe used to be one datagram, and three lost in a row declared an
// outage. At 20 % loss on the path to a live pool that is 0.8 % per probe — a false
// outage, and every user moved, within a minute (failover/chaos_net_test.go showed
// it). With up to five sends the chance that a probe goes unanswered at 20 % loss is
// 0.2^5 (3·10^-4 on a steady path, under 1 % with 100 ms of jitter each way), and three
// such probes in a row are needed: a lossy link no longer looks dead, while a dead pool
// still misses three probes in about 1 s as before. A pool that answers within 50 ms —
// any healthy one on a LAN — still gets one OPTIONS per probe; the extra ones go only
// to a pool that is slow or behind loss.
const probeAttempts = 5

// probe sends OPTIONS to pool i (again while unanswered, see probeAttempts) and reports
// whether it counts as healthy and, when not, why. An answer or a transport error ends
// it; only silence sends another.
func (p *prober) probe(ctx context.Context, i int) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	type result struct {
		ok     bool
		detail string
	}
	results := make(chan result, probeAttempts)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // before the Wait: the attempts still waiting give up
	send := func() {
		req := sip.NewRequest(sip.OPTIONS, p.targets[i])
		req.SetTransport(p.tps[i])
		res, err := p.clients[i].Do(ctx, req)
		switch {
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
			return // silence: the probe's deadline speaks for it
		case err != nil:
			results <- result{false, fmt.Sprintf("OPTIONS failed: %v", err)}
		case res.StatusCode >= 500:
			results <- result{false, fmt.Sprintf("OPTIONS answered %d %s", res.StatusCode, res.Reason)}
		default:
			results <- result{true, ""}
		}
	}
	again := time.NewTicker(p.timeout / probeAttempts)
	defer again.Stop()
	sent := 1
	wg.Go(send)
	for {
		select {
		case r := <-results:
			return r.ok, r.detail
		case <-again.C:
			// Over TLS the connection resends what is lost; a second OPTIONS
			// would only add work for a slow pool.
			if p.tps[i] == "UDP" && sent < probeAttempts {
				sent++
				wg.Go(send)
			}
		case <-ctx.Done():
			return false, fmt.Sprintf("no answer to OPTIONS within %v (%d sent)", p.timeout, sent)
		}
	}
}

// probeLoop probes pool i at once and then every ProbeInterval until ctx ends, or at
// once when the connection watch asks (connwatch.go). A probe that outlasts the interval
// delays the next one rather than overlapping it, so a pool is never sent more than one
// probe at a time.
func (c *Controller) probeLoop(ctx context.Context, p *prober, i int, pool Pool) {
	t := time.NewTicker(c.cfg.ProbeInterval)
	defer t.Stop()
	for {
		start := time.Now()
		ok, detail := p.probe(ctx, i)
		if ctx.Err() != nil {
			return
		}
		c.cfg.Metrics.Probe(pool.Name, time.Since(start), ok)
		if !ok {
			c.log.Debug("dr: probe missed", "pool", pool.Name, "detail", detail)
		}
		c.observe(i, ok, detail)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.kicks[i]: // the connection watch saw the pool's connection end
		}
	}
}
