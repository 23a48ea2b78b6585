package dr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
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
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(sipLog)),
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

// probe sends one OPTIONS to pool i and reports whether it counts as healthy and, when
// not, why.
func (p *prober) probe(ctx context.Context, i int) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req := sip.NewRequest(sip.OPTIONS, p.targets[i])
	req.SetTransport(p.tps[i])
	res, err := p.clients[i].Do(ctx, req)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return false, fmt.Sprintf("no answer to OPTIONS within %v", p.timeout)
	case err != nil:
		return false, fmt.Sprintf("OPTIONS failed: %v", err)
	case res.StatusCode >= 500:
		return false, fmt.Sprintf("OPTIONS answered %d %s", res.StatusCode, res.Reason)
	}
	return true, ""
}

// probeLoop probes pool i at once and then every ProbeInterval until ctx ends. A probe
// that outlasts the interval delays the next one rather than overlapping it, so a pool
// is never sent more than one probe at a time.
func (c *Controller) probeLoop(ctx context.Context, p *prober, i int, pool Pool) {
	t := time.NewTicker(c.cfg.ProbeInterval)
	defer t.Stop()
	for {
		ok, detail := p.probe(ctx, i)
		if ctx.Err() != nil {
			return
		}
		if !ok {
			c.log.Debug("dr: probe missed", "pool", pool.Name, "detail", detail)
		}
		c.observe(i, ok, detail)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
