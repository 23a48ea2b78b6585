package gateway

import (
	"github.com/parkway/parkway/gateway/phone"
	"github.com/parkway/parkway/gateway/ua"
)

// Registrar signs users in to SIP and out again (phone.Registrar).
type Registrar = phone.Registrar

// DefaultSignOutGrace is how long a user stays registered after their last session
// ends (phone.DefaultSignOutGrace).
const DefaultSignOutGrace = phone.DefaultSignOutGrace

// DefaultReattachGrace is how long a call whose tab went away waits for a tab of
// its user to take it back (phone.DefaultReattachGrace).
const DefaultReattachGrace = phone.DefaultReattachGrace

// SIPUsers is the Registrar of a gateway/ua Manager.
func SIPUsers(m *ua.Manager) Registrar { return phone.SIPUsers(m) }
