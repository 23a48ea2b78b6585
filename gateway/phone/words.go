package phone

import (
	"context"
	"errors"

	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/signaling"
)

// What the tabs are told when a request fails (issue #10 item 4): one plain sentence
// with the reason, never a Go error chain — that goes to the log. SIP answers are worded
// by signaling.SIPSentence, the one table both ends share.

// failed is the error frame for act, about subject (an orbit, whom a call was to, or
// ""), failing with err; nil when err is nil.
func (p *phones) failed(act signaling.Action, subject string, err error) *signaling.Error {
	if err == nil {
		return nil
	}
	code := signaling.CodeUnavailable
	var se *ua.StatusError
	if errors.As(err, &se) && (se.Code == 404 || se.Code == 604) && (act == signaling.ActionCall || act == signaling.ActionRetrieve) {
		code = signaling.CodeNotFound
	}
	msg := sentence(act, subject, err)
	p.log.Info("phone: request failed", "action", act, "subject", subject, "said", msg, "error", err)
	return &signaling.Error{Code: code, Message: msg}
}

// sentence words err for people.
func sentence(act signaling.Action, subject string, err error) string {
	var se *ua.StatusError
	switch {
	case errors.As(err, &se):
		return signaling.SIPSentence(act, se.Code, subject)
	case errors.Is(err, ua.ErrNoCodec):
		return signaling.SIPSentence(act, 488, subject)
	case errors.Is(err, ua.ErrCallEnded):
		return "The call ended before that could be done."
	case errors.Is(err, ua.ErrNotActive):
		return "The call is not connected."
	case errors.Is(err, ua.ErrSignedOut):
		return "You were signed out of the phone system."
	case errors.Is(err, context.DeadlineExceeded):
		return "The phone system did not answer in time."
	case errors.Is(err, context.Canceled):
		return "It was cancelled before it was done."
	}
	return "Something went wrong in the gateway; please try again."
}

// orbitRefusal refuses a directed park or a retrieve to an orbit that no pool which is
// up holds, before anything is sent: the same words the tab uses for the same check.
func (p *phones) orbitRefusal(orbit string) *signaling.Error {
	if orbit == "" || p.ctrl == nil {
		return nil
	}
	snap := p.ctrl.Snapshot()
	pools := make([]signaling.PoolState, 0, len(snap.Pools))
	for _, s := range snap.Pools {
		pools = append(pools, signaling.PoolState{Name: s.Name, Orbits: s.Orbits, Up: s.Healthy})
	}
	if why := signaling.OrbitRefusal(orbit, pools); why != "" {
		return &signaling.Error{Code: signaling.CodeRefused, Field: "orbit", Message: why}
	}
	return nil
}
