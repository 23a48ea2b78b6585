package softphone

import (
	"strings"

	"github.com/parkway/parkway/signaling"
)

// Unsent drops from queued the candidates the offer already carries: the browser adds
// what it gathered to the local description, so an offer sent a moment after it was
// set may hold some, or all (then the end-of-candidates marker is in it too).
func Unsent(queued []signaling.ICE, sdp string) []signaling.ICE {
	var out []signaling.ICE
	for _, m := range queued {
		switch {
		case m.Candidate == "" && strings.Contains(sdp, "a=end-of-candidates"):
		case m.Candidate != "" && strings.Contains(sdp, "a="+m.Candidate+"\r\n"):
		default:
			out = append(out, m)
		}
	}
	return out
}
