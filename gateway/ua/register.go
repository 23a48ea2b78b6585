package ua

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// registration is one user's binding at one pool (RFC 3261 §10.2).
type registration struct {
	// mu serialises the user's REGISTERs: a refresh and a Redirect must not race,
	// or the pool would see CSeqs out of order (§10.3 step 7 answers 500).
	mu      sync.Mutex
	pool    Pool
	callID  string // one Call-ID per registrar, kept across refreshes (§10.2.4)
	cseq    uint32
	granted time.Duration
	at      time.Time // when the pool granted it
	bound   bool

	rearm chan struct{} // tells keepRegistered the schedule changed

	// inflight is the REGISTER being sent (with mu held), so that a move to another
	// pool can cut short one towards a pool that just died instead of waiting out its
	// RequestTimeout behind mu. inflightMu guards the two fields; never hold it while
	// taking mu.
	inflightMu     sync.Mutex
	inflightPool   string
	inflightCancel context.CancelFunc
}

// preempt cancels a REGISTER in flight towards any pool but to, and reports whether it
// did. The cancelled caller gets a context error and retries as it would after any
// failure, by then towards the active pool.
func (r *registration) preempt(to string) bool {
	r.inflightMu.Lock()
	defer r.inflightMu.Unlock()
	if r.inflightCancel == nil || r.inflightPool == to {
		return false
	}
	r.inflightCancel()
	return true
}

func (r *registration) setInflight(pool string, cancel context.CancelFunc) {
	r.inflightMu.Lock()
	r.inflightPool, r.inflightCancel = pool, cancel
	r.inflightMu.Unlock()
}

// Pool is the pool the user is registered with (or last tried).
func (u *User) Pool() Pool {
	u.reg.mu.Lock()
	defer u.reg.mu.Unlock()
	return u.reg.pool
}

// Registered reports whether the user holds an unexpired binding, and where.
func (u *User) Registered() (Pool, bool) {
	u.reg.mu.Lock()
	defer u.reg.mu.Unlock()
	ok := u.reg.bound && time.Since(u.reg.at) < u.reg.granted
	return u.reg.pool, ok
}

// register binds the user's Contact at pool for expires (0 removes it), answering a
// digest challenge (RFC 3261 §22.2; a stale nonce is answered once more, RFC 7616
// §3.3) and a 423 with the pool's Min-Expires (§10.2.8). Moving to another pool starts
// a new Call-ID there.
func (u *User) register(ctx context.Context, pool Pool, expires time.Duration) error {
	r := &u.reg
	r.preempt(pool.Name)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pool.Name != pool.Name || r.callID == "" {
		r.pool = pool
		r.callID = sip.GenerateTagN(20) + "@" + u.m.host
		r.cseq = 0
		r.bound = false
	}
	ctx, cancel := context.WithTimeout(ctx, u.m.cfg.RequestTimeout)
	defer cancel()
	r.setInflight(pool.Name, cancel)
	defer r.setInflight("", nil)
	for try := 0; ; try++ {
		res, err := u.sendRegister(ctx, pool, expires)
		if err != nil {
			return err
		}
		if res.StatusCode == 423 && expires > 0 && try == 0 {
			minExp, perr := strconv.Atoi(headerValue(res, "Min-Expires"))
			if perr == nil && time.Duration(minExp)*time.Second > expires {
				expires = time.Duration(minExp) * time.Second
				continue
			}
		}
		if !res.IsSuccess() {
			return &StatusError{Method: "REGISTER at " + pool.Name, Code: res.StatusCode, Reason: res.Reason}
		}
		if expires == 0 {
			r.bound = false
			return nil
		}
		r.granted = u.granted(res, expires)
		r.at = time.Now()
		r.bound = true
		select {
		case r.rearm <- struct{}{}:
		default:
		}
		return nil
	}
}

// sendRegister sends one REGISTER (and its answers to challenges); r.mu is held.
func (u *User) sendRegister(ctx context.Context, pool Pool, expires time.Duration) (*sip.Response, error) {
	r := &u.reg
	r.cseq++
	aor := u.aor(pool)
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: pool.domain()})
	from := sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(&from)
	req.AppendHeader(&sip.ToHeader{Address: aor})
	id := sip.CallIDHeader(r.callID)
	req.AppendHeader(&id)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: r.cseq, MethodName: sip.REGISTER})
	ct := u.contact
	req.AppendHeader(&ct)
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	req.SetDestination(pool.Addr)
	req.SetTransport(pool.transport())

	cli := u.m.client(pool)
	u.m.preAuthorize(ctx, req, pool, u.name, u.secret)
	res, err := cli.Do(ctx, req)
	for tries := 0; err == nil && (res.StatusCode == 401 || res.StatusCode == 407) && tries < 2; tries++ {
		code := res.StatusCode
		chal, aerr := authorize(req, res, u.name, u.secret)
		if aerr != nil {
			return nil, fmt.Errorf("REGISTER at %s: %w", pool.Name, aerr)
		}
		req.CSeq().SeqNo++
		req.RemoveHeader("Via")
		res, err = cli.Do(ctx, req, sipgo.ClientRequestAddVia)
		// Share the challenge only once it has worked, with its nonce-count 1 spent:
		// shared earlier, other REGISTERs' counts on it could reach the pool before
		// ours, and the pool refuses a count lower than one it has seen (a replay).
		if err == nil && res.IsSuccess() && code == 401 {
			u.m.rememberChallenge(ctx, pool, chal)
		}
	}
	if cs := req.CSeq(); cs != nil {
		r.cseq = cs.SeqNo // DoDigestAuth counted up
	}
	if err != nil {
		return nil, fmt.Errorf("REGISTER at %s: %w", pool.Name, err)
	}
	return res, nil
}

// granted reads the lifetime the registrar gave our contact: its expires parameter in
// the 200, else the Expires header, else what we asked for (§10.2.4).
func (u *User) granted(res *sip.Response, asked time.Duration) time.Duration {
	for _, h := range res.GetHeaders("Contact") {
		ch, ok := h.(*sip.ContactHeader)
		if !ok || ch.Address.User != u.name || ch.Address.Host != u.m.host || ch.Address.Port != u.m.port {
			continue
		}
		if v, ok := ch.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	if n, err := strconv.Atoi(headerValue(res, "Expires")); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return asked
}

// unregister removes the binding at the pool the user is registered with — unless that
// pool is down (Manager.PoolDown): the binding lapses there by itself.
func (u *User) unregister(ctx context.Context) error {
	pool, ok := u.Registered()
	if !ok {
		return nil
	}
	if u.m.poolDown(pool.Name) {
		u.m.log.Debug("ua: no un-REGISTER to a pool that is down; the binding lapses there", "user", u.name, "pool", pool.Name)
		return nil
	}
	return u.register(ctx, pool, 0)
}

// nextRefresh is when the binding should be refreshed: RefreshAt of its lifetime.
func (u *User) nextRefresh() time.Duration {
	r := &u.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.bound {
		return time.Second
	}
	due := r.at.Add(time.Duration(float64(r.granted) * u.m.cfg.RefreshAt))
	return max(time.Until(due), 0)
}

// keepRegistered refreshes the binding before it expires, at whichever pool the user is
// registered with (Redirect moves it), and retries failures with backoff until the
// binding would lapse — after which it keeps trying, as a phone would.
func (u *User) keepRegistered() {
	t := time.NewTimer(u.nextRefresh())
	defer t.Stop()
	backoff := time.Second
	for {
		select {
		case <-u.ctx.Done():
			return
		case <-u.reg.rearm:
			backoff = time.Second
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
			t.Reset(u.nextRefresh())
		case <-t.C:
			err := u.register(u.ctx, u.Pool(), u.m.cfg.Expires)
			if err == nil {
				continue // register rearmed us
			}
			if errors.Is(err, context.Canceled) && u.ctx.Err() != nil {
				return
			}
			u.m.log.Warn("ua: registration refresh failed", "user", u.name, "pool", u.Pool().Name, "error", err, "retry", backoff)
			t.Reset(backoff)
			backoff = min(backoff*2, 30*time.Second)
		}
	}
}

func headerValue(m interface{ GetHeader(string) sip.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return strings.TrimSpace(h.Value())
	}
	return ""
}
