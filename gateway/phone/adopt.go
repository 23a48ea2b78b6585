package phone

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/parkway/parkway/gateway/edge"
	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/media"
	"github.com/parkway/parkway/signaling"
)

// Adoption (issue #11 item 5, ARCHITECTURE.md §9): a call whose gateway died is
// carried on here from its dialog record. Its user is signed in on this gateway (the
// call counts as a session of theirs, as a call waiting for a tab to re-attach does),
// the call gets a bridge of its own that plays the re-attach hold sound to the far end
// (ua.User.Adopt re-INVITEs the far end toward it), and then it waits for a tab
// exactly like a call whose tab went away (reattach.go): the user's tab, reconnecting
// to this gateway, finds it in its welcome's needsMedia and takes it with a media
// action (a hand-over to a leg answering the tab's new PeerConnection). No tab within
// the re-attach grace ends it with signaling.ReasonBrowserGone.

// ErrNoCalls means this gateway carries no calls (no SIP or media configured).
var ErrNoCalls = errors.New("phone: this gateway carries no calls")

// Adopt carries on rec's call on this gateway, waiting for a tab of its user.
func (s *Service) Adopt(ctx context.Context, rec ua.DialogRecord) error {
	if s.phones == nil {
		return ErrNoCalls
	}
	return s.phones.adopt(ctx, rec)
}

// phoneFor is user's phone, made if the user has none yet.
func (p *phones) phoneFor(user string) *phone {
	p.mu.Lock()
	defer p.mu.Unlock()
	ph := p.users[user]
	if ph == nil {
		ph = &phone{p: p, name: user, sessions: map[*edge.Session]struct{}{}, calls: map[string]*callEntry{}, dialing: map[*callEntry]struct{}{}, refs: map[refKey]*iceRef{}, finished: map[*edge.Session][]string{}}
		p.users[user] = ph
	}
	return ph
}

func (p *phones) adopt(ctx context.Context, rec ua.DialogRecord) error {
	if err := rec.Check(); err != nil {
		return err
	}
	ph := p.phoneFor(rec.User)
	if err := p.regs.adopt(ctx, rec.User); err != nil {
		return fmt.Errorf("phone: adopt %s's call: %w", rec.User, err)
	}
	kept := false // the registration is the call's to give back once it waits for a tab
	defer func() {
		if !kept {
			p.regs.leave(rec.User)
		}
	}()
	u := p.m.User(rec.User)
	if u == nil {
		return fmt.Errorf("phone: adopt %s's call: %w", rec.User, ua.ErrSignedOut)
	}
	leg, err := p.f.NewLeg(&media.BridgeConfig{LocalAddr: netip.AddrPortFrom(p.addr, 0), Codec: media.Codec(rec.Payload)})
	if err != nil {
		return fmt.Errorf("phone: adopt %s's call: media: %w", rec.User, err)
	}
	// No tab yet: the far end hears the hold sound until one takes the call.
	_ = leg.Bridge().Detach(p.hold)
	e := &callEntry{leg: leg, detached: true}
	cm := NewCallMedia(leg, p.log.With("user", rec.User, "call", rec.ID))
	cm.entry = e
	if _, err := u.Adopt(ctx, rec, cm); err != nil {
		ph.mu.Lock()
		if e.leg == leg {
			e.leg = nil
		}
		ph.mu.Unlock()
		_ = leg.Close()
		return err
	}
	ph.mu.Lock()
	if e.state != signaling.CallEnded && e.orphaned == nil && e.holder == nil && p.ctx.Err() == nil {
		e.kept, kept = true, true
		ph.armGraceLocked(e)
	}
	ph.mu.Unlock()
	p.log.Info("call adopted from a failed gateway; waiting for a tab", "user", rec.User, "call", rec.ID, "peer", rec.Peer)
	return nil
}
