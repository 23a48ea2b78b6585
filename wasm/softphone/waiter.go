package softphone

import "github.com/parkway/parkway/signaling"

// Waiter is an API command sent to the gateway, waiting for the message that shows it
// done (or the error that refuses it).
type Waiter struct {
	Cmd Command
	ID  string
}

// Done reports whether c, which arrived with ref, settles w: with the call to report,
// or with the error when the call ended before it got there.
func (w Waiter) Done(c *signaling.Call, ref string) (settled bool, call string, e *APIError) {
	if ref == w.ID {
		switch w.Cmd.Act {
		case signaling.ActionCall, signaling.ActionRetrieve, signaling.ActionAnswer:
			return true, c.ID, nil
		}
	}
	if c.ID != w.Cmd.Call {
		return false, "", nil
	}
	ended := c.State == signaling.CallEnded
	switch w.Cmd.Act {
	case signaling.ActionHangup, signaling.ActionDecline, signaling.ActionPark, signaling.ActionTransfer:
		return ended, c.ID, nil
	case signaling.ActionHold:
		if c.State == signaling.CallHeld {
			return true, c.ID, nil
		}
	case signaling.ActionResume:
		if c.State == signaling.CallActive {
			return true, c.ID, nil
		}
	case signaling.ActionMute:
		if w.Cmd.Muted != nil && c.Muted == *w.Cmd.Muted && !ended {
			return true, c.ID, nil
		}
	}
	if ended {
		return true, "", &APIError{Code: string(signaling.CodeNoCall), Field: "call", Message: "the call ended: " + c.Reason}
	}
	return false, "", nil
}
