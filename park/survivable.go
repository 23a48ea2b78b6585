package park

import (
	"net/netip"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
)

// Survivable park (issue #10, opt-in, beyond Lync): when the pool holding a parked call
// dies and the gateway holds the parked party's leg, the gateway re-parks that leg here
// with an INVITE to sip:park@ that carries the original park time
// (parkwire.ParkedSinceHeader) and the original parker (Referred-By). The call then
// takes the first free orbit as any park does, but its pickup timeout counts from the
// original park time and its ring-back goes to the original parker.
//
// Who may say when a call was parked: only someone the pool vouches for. The pool's
// proxy strips the header from every request but those of a user it authenticated by
// digest and those of its peer pool (pool/trust.go), and this service takes it only
// from its own pool's proxy (Options.Outbound, over UDP, from the proxy's listening
// socket, which the sender does not write) and only with Config.Survivable.

// reparkSince reads a re-park's original park time: zero for an ordinary park, an
// ErrRepark for a re-park this service may not take.
func (r *run) reparkSince(req *sip.Request) (time.Time, *Error) {
	v := headerValue(req, parkwire.ParkedSinceHeader)
	if v == "" {
		return time.Time{}, nil
	}
	refuse := func(why string) (time.Time, *Error) {
		e := *ErrRepark
		e.Text += ": " + why
		return time.Time{}, &e
	}
	if !r.s.cfg.Survivable {
		return refuse("survivable park is off on this pool")
	}
	if !r.fromOwnPool(req) {
		return refuse("only the pool's proxy may carry a park time")
	}
	since, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return refuse("the park time is not an RFC 3339 time")
	}
	now := time.Now()
	if since.After(now.Add(time.Second)) || now.Sub(since) > MaxPickupTimeout {
		return refuse("the park time is in the future or older than the longest pickup timeout")
	}
	return since, nil
}

// fromOwnPool reports whether req came from this service's pool's proxy: over UDP, from
// the address Options.Outbound names. A service without a pool (tests) trusts no one.
func (r *run) fromOwnPool(req *sip.Request) bool {
	if r.s.opt.Outbound == "" || (req.Transport() != "" && req.Transport() != "UDP") {
		return false
	}
	want, err := netip.ParseAddrPort(r.s.opt.Outbound)
	if err != nil {
		return false
	}
	src, err := netip.ParseAddrPort(req.Source())
	return err == nil && src.Addr().Unmap() == want.Addr().Unmap() && src.Port() == want.Port()
}
