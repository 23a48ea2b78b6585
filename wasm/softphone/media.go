package softphone

import "github.com/parkway/parkway/signaling"

// Where a call's audio is (issue 10), as the gateway tells each tab
// (signaling.Call.Media): on this tab, on another tab of the user, or on none.

// MovedAway reports whether the call is live on another tab of the user: this tab
// shows it as moved away and offers "Move here".
func (c *ListedCall) MovedAway() bool {
	return c.Media == signaling.MediaElsewhere && live(c.State) && c.State != signaling.CallRinging
}

// Movable reports whether "Move here" can take the call onto this tab: its audio is on
// another tab, or on none.
func (c *ListedCall) Movable() bool { return c.MovedAway() || c.NeedsMedia() }

// NeedsMedia reports whether the call is waiting for a tab to take its audio back:
// its tab went away (a reload) and the gateway holds it for the re-attach grace.
func (c *ListedCall) NeedsMedia() bool {
	return c.Media == signaling.MediaNeeded && live(c.State) && c.State != signaling.CallRinging
}

// LabelMoveHere is the accessible name of the button that takes a call that is live
// on another tab onto this one (a media action).
const LabelMoveHere = "Move here"

// NeedingMedia lists the live calls that wait for this tab to re-attach them.
func (l *CallList) NeedingMedia() []string {
	var ids []string
	for _, c := range l.Calls {
		if c.NeedsMedia() {
			ids = append(ids, c.ID)
		}
	}
	return ids
}
