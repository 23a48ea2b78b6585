package gateway

import (
	"context"

	"github.com/parkway/parkway/gateway/phone"
	"github.com/parkway/parkway/gateway/ua"
)

// Adopt carries on here a call whose gateway (another of the cluster) died, from the
// dialog record that gateway wrote (phone.Service.Adopt; ARCHITECTURE.md §9). The call
// then waits for a tab of its user to take its media, as after a reload.
func (s *Server) Adopt(ctx context.Context, rec ua.DialogRecord) error {
	if s.phones == nil {
		return phone.ErrNoCalls
	}
	return s.phones.Adopt(ctx, rec)
}
