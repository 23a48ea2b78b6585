package ua

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/signaling"
	"github.com/parkway/parkway/sip/audiosdp"
	"github.com/parkway/parkway/sip/calltrace"
)

// Adoption (issue #11 item 5, ARCHITECTURE.md §9): with several gateways, each
// established call's SIP dialog is written out (DialogSink) whenever it changes, and
// when its gateway dies another gateway's user agent takes the dialog over from that
// record (User.Adopt): a re-INVITE inside the same dialog — same Call-ID and tags, a
// CSeq above the last one written, the same route set, sent to the remote target —
// offering the adopter's own RTP address. The far end takes it as any re-INVITE that
// moves the media (RFC 3261 §14, §12.2.2 target refresh), so neither the pools nor
// the far end's gateway need to know anything happened.

// DialogRecord is what another gateway needs to carry on an established call: its
// dialog (RFC 3261 §12: Call-ID, tags, CSeq, route set, remote target) and its media
// (the far end's RTP address and the law and direction negotiated).
type DialogRecord struct {
	// ID is the call's id, kept by the adopter so the user's tabs see the same call.
	ID       string `json:"id"`
	User     string `json:"user"`
	Trace    string `json:"trace,omitempty"`
	Peer     string `json:"peer"`
	Outgoing bool   `json:"outgoing,omitempty"`
	// State is active or held.
	State signaling.CallState `json:"state"`

	// The dialog, from our side: From is ours (LocalURI;tag=LocalTag), To the far end's.
	CallID       string   `json:"callId"`
	LocalURI     string   `json:"localUri"`
	LocalTag     string   `json:"localTag"`
	RemoteURI    string   `json:"remoteUri"`
	RemoteTag    string   `json:"remoteTag"`
	RemoteTarget string   `json:"remoteTarget"`
	RouteSet     []string `json:"routeSet,omitempty"`
	// LocalCSeq is the last CSeq we sent in the dialog when the record was written.
	LocalCSeq uint32 `json:"localCSeq"`

	// Media: where the far end receives RTP, the G.711 payload type in use, the
	// telephone-event type, our direction and who holds whom; SessionID and
	// SessionVersion are our SDP's o= line (RFC 3264 §8: a re-offer keeps the id and
	// counts the version up).
	RemoteRTP      string    `json:"remoteRtp"`
	Payload        uint8     `json:"payload"`
	EventPT        uint8     `json:"eventPt,omitempty"`
	Dir            Direction `json:"dir"`
	Holding        bool      `json:"holding,omitempty"`
	RemoteHold     bool      `json:"remoteHold,omitempty"`
	SessionID      uint64    `json:"sessionId"`
	SessionVersion uint64    `json:"sessionVersion"`
}

// DialogSink hears of every established call's dialog as it changes (Save, on the
// call's loop: it must not block) and of its end (Drop).
type DialogSink interface {
	Save(DialogRecord)
	Drop(user, callID string)
}

// adoptCSeqGap is how far above the last CSeq written the adopter's re-INVITE goes:
// requests the dead gateway sent after its last write (a REFER, a NOTIFY) are not in
// the record, and RFC 3261 §12.2.1.1 asks only that the CSeq grow.
const adoptCSeqGap = 1000

// ReasonAdopted is the reason of the event that announces an adopted call.
const ReasonAdopted = "carried on by this gateway after its own failed"

// sinkBox holds a DialogSink in an atomic.Pointer.
type sinkBox struct{ s DialogSink }

// SetDialogSink makes s hear of every established call's dialog from now on (nil:
// nobody). Only gateways of a cluster set one.
func (m *Manager) SetDialogSink(s DialogSink) {
	if s == nil {
		m.sink.Store(nil)
		return
	}
	m.sink.Store(&sinkBox{s})
}

func (m *Manager) dialogSink() DialogSink {
	if b := m.sink.Load(); b != nil {
		return b.s
	}
	return nil
}

// saveDialog tells the sink about c's dialog after a change (or its end).
func (c *Call) saveDialog(ended bool) {
	s := c.u.m.dialogSink()
	if s == nil {
		return
	}
	if ended {
		s.Drop(c.u.name, c.id)
		return
	}
	if rec, ok := c.Record(); ok {
		s.Save(rec)
	} else if _, _, parked := c.ParkedOn(); parked {
		s.Drop(c.u.name, c.id) // parked now: no longer another gateway's to adopt
	}
}

// Record is the call's dialog as another gateway would adopt it; ok is false unless
// the call is established (active or held) with a far end that is no park service: a
// parked call's media and dialog belong to the pool's park service, which answers a
// re-INVITE as a session refresh without moving its music or its target, so it is not
// adopted (and calls parked at a pool do not depend on any gateway).
func (c *Call) Record() (DialogRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.d
	if d == nil || (c.state != signaling.CallActive && c.state != signaling.CallHeld) || !c.remote.Addr.IsValid() || c.parkedPool != "" {
		return DialogRecord{}, false
	}
	rec := DialogRecord{
		ID: c.id, User: c.u.name, Trace: c.trace, Peer: c.peer, Outgoing: c.outgoing, State: c.state,
		CallID: d.callID, LocalTag: d.localTag(), RemoteTag: d.remoteTag(),
		RemoteURI: uriString(d.remoteURI()), RemoteTarget: uriString(d.remoteTarget()),
		RemoteRTP: c.remote.Addr.String(), EventPT: c.local.Events, Dir: c.local.Dir,
		Holding: c.holding, RemoteHold: c.remoteHold, SessionID: c.local.SessionID, SessionVersion: c.local.Version,
	}
	if len(c.local.Payloads) > 0 {
		rec.Payload = c.local.Payloads[0]
	}
	if d.cs != nil {
		if d.cs.InviteResponse == nil {
			return DialogRecord{}, false
		}
		rec.LocalURI = d.cs.InviteRequest.From().Address.String()
		rec.LocalCSeq = d.cs.CSEQ()
		// The route set is the 2xx's Record-Route, reversed (RFC 3261 §12.1.2).
		rr := d.cs.InviteResponse.GetHeaders("Record-Route")
		for i := len(rr) - 1; i >= 0; i-- {
			rec.RouteSet = append(rec.RouteSet, rr[i].Value())
		}
	} else {
		rec.LocalURI = d.ss.InviteRequest.To().Address.String()
		rec.LocalCSeq = d.ss.CSEQ()
		for _, h := range d.ss.InviteRequest.GetHeaders("Record-Route") { // in order (§12.1.1)
			rec.RouteSet = append(rec.RouteSet, h.Value())
		}
	}
	return rec, true
}

func uriString(u sip.Uri) string { return u.String() }

// Check reports what in rec makes it impossible to adopt.
func (rec DialogRecord) Check() error {
	var problems []string
	if rec.ID == "" || rec.User == "" || rec.CallID == "" || rec.LocalTag == "" || rec.RemoteTag == "" {
		problems = append(problems, "id, user, callId and both tags are required")
	}
	if rec.State != signaling.CallActive && rec.State != signaling.CallHeld {
		problems = append(problems, fmt.Sprintf("state %q is not active or held", rec.State))
	}
	for name, v := range map[string]string{"localUri": rec.LocalURI, "remoteUri": rec.RemoteURI, "remoteTarget": rec.RemoteTarget} {
		var u sip.Uri
		if err := sip.ParseUri(v, &u); err != nil {
			problems = append(problems, fmt.Sprintf("%s %q: %v", name, v, err))
		} else if u.Host == "" {
			problems = append(problems, fmt.Sprintf("%s %q names no host", name, v))
		}
	}
	if a, err := netip.ParseAddrPort(rec.RemoteRTP); err != nil || a.Port() == 0 {
		problems = append(problems, fmt.Sprintf("remoteRtp %q is no ip:port", rec.RemoteRTP))
	}
	if rec.Payload != PayloadPCMU && rec.Payload != PayloadPCMA {
		problems = append(problems, fmt.Sprintf("payload %d is not G.711", rec.Payload))
	}
	if len(problems) > 0 {
		return fmt.Errorf("ua: dialog record: %s", strings.Join(problems, "; "))
	}
	return nil
}

// ErrAdopted means the user already has a call with the record's id.
var ErrAdopted = errors.New("ua: the call is already here")

// Adopt carries on the call rec describes, whose gateway died, with leg as its media:
// a re-INVITE in rec's dialog offering leg's RTP address (a digest challenge is
// answered with the user's credentials). It returns once the far end accepted; the
// call is then published in rec's state with reason ReasonAdopted. A refusal (481:
// the far end hung up meanwhile) is a *StatusError and leaves no call.
func (u *User) Adopt(ctx context.Context, rec DialogRecord, leg MediaLeg) (*Call, error) {
	if u.ctx.Err() != nil {
		return nil, ErrSignedOut
	}
	if rec.User != u.name {
		return nil, fmt.Errorf("ua: adopt: the record is %s's call, not %s's", rec.User, u.name)
	}
	if err := rec.Check(); err != nil {
		return nil, err
	}
	var local, remote, target sip.Uri
	_ = sip.ParseUri(rec.LocalURI, &local)
	_ = sip.ParseUri(rec.RemoteURI, &remote)
	_ = sip.ParseUri(rec.RemoteTarget, &target)

	c, ok := u.newCallWithID(rec.ID, rec.Outgoing, rec.Peer, rec.State, rec.Trace)
	if !ok {
		return nil, ErrAdopted
	}
	c.leg = leg
	c.local = audiosdp.Local{Addr: leg.LocalRTP(), SessionID: rec.SessionID, Version: rec.SessionVersion + 1,
		Payloads: []uint8{rec.Payload}, Events: rec.EventPT, Dir: rec.Dir}
	if c.local.SessionID == 0 {
		c.local = newLocal(leg)
		c.local.Payloads, c.local.Events, c.local.Dir = []uint8{rec.Payload}, rec.EventPT, rec.Dir
	}
	c.holding, c.remoteHold = rec.Holding, rec.RemoteHold

	req := sip.NewRequest(sip.INVITE, target)
	from := sip.FromHeader{Address: local, Params: sip.NewParams()}
	from.Params.Add("tag", rec.LocalTag)
	to := sip.ToHeader{Address: remote, Params: sip.NewParams()}
	to.Params.Add("tag", rec.RemoteTag)
	callID := sip.CallIDHeader(rec.CallID)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: rec.LocalCSeq + adoptCSeqGap, MethodName: sip.INVITE})
	ct := u.contact
	req.AppendHeader(&ct)
	for _, r := range rec.RouteSet {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	req.AppendHeader(sip.NewHeader("Supported", "replaces"))
	req.AppendHeader(sip.NewHeader("Allow", allow))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(c.local.Marshal())
	req.SetTransport("UDP") // nothing Record-Routes: a dialog runs between the parties over UDP
	req.Laddr = u.m.laddr()
	calltrace.Set(req, c.trace)

	_, err := c.invite(ctx, req, func(d *dialog, r audiosdp.Description) error {
		c.adopt(d)
		if err := c.applyRemote(r, true); err != nil {
			return err
		}
		c.mu.Lock()
		c.holding, c.remoteHold = rec.Holding, rec.RemoteHold || r.Dir == SendOnly || r.Dir == Inactive
		c.mu.Unlock()
		c.setState(rec.State, ReasonAdopted)
		return nil
	})
	if err != nil {
		// No dialog was made ours: end the call quietly (teardown sends no BYE
		// without a dialog) and say why.
		c.cancel(&endCause{"the call could not be carried on after its gateway failed"})
		<-c.done
		return nil, fmt.Errorf("ua: adopt %s's call %s: %w", u.name, rec.ID, err)
	}
	return c, nil
}
