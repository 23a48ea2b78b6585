package edge

import (
	"time"

	"github.com/parkway/parkway/signaling"
)

// promptReauth sends the tab a reauth message once per token, when its token expires
// within Config.ReauthLead (checked on every heartbeat tick, so a lead shorter than the
// ping interval may be missed). A tab that answers with an auth frame carrying a fresh
// token goes on (Session.reauthenticate); otherwise the writer closes it at expiry. It
// reports false when the write failed. Only the writer calls it.
func (s *Session) promptReauth(now time.Time) bool {
	lead := s.srv.cfg.ReauthLead
	exp := s.expires.Load()
	if lead <= 0 || exp == 0 || s.prompted == exp || time.Unix(0, exp).Sub(now) > lead {
		return true
	}
	s.prompted = exp
	s.log.Debug("asking the tab to re-authenticate", "expires", time.Unix(0, exp).UTC())
	f, err := signaling.Encode("", &signaling.Reauth{Deadline: time.Unix(0, exp).UTC()})
	if err != nil {
		return true
	}
	return s.write(f)
}
