package signaling

import (
	"strings"

	"github.com/parkway/parkway/park/parkwire"
)

// Sentences for people (issue #10 item 4; STYLE.md habit 14). Every refusal or failure
// the page or the widget shows is one plain sentence that says why, never a Go error
// chain: the gateway words SIP answers with SIPSentence, and both ends refuse a directed
// park or a retrieve to an orbit no live pool holds with OrbitRefusal before anything is
// sent. This file is the one place those words live; it is plain Go, so the wasm client
// uses it without pulling in SIP.

// PoolState is one pool as the tabs see it in a State: its name, its orbit ranges as
// GET /api/dr writes them ("7000-7099", several joined by commas) and whether it
// answers the gateway's probes.
type PoolState struct {
	Name   string `json:"name"`
	Orbits string `json:"orbits,omitempty"`
	Up     bool   `json:"up"`
}

// OrbitRefusal says why a directed park or a retrieve to orbit must not be tried, or ""
// when a pool that is up holds it: "Orbit 7000 is on pool-a, which is down." With no
// pools known (a gateway that does not say) it refuses nothing.
func OrbitRefusal(orbit string, pools []PoolState) string {
	if orbit == "" || len(pools) == 0 {
		return ""
	}
	if !parkwire.ValidOrbit(orbit) {
		return quote(orbit) + " is not an orbit number."
	}
	var ranges []string
	for _, p := range pools {
		for _, r := range strings.Split(p.Orbits, ",") {
			r = strings.TrimSpace(r)
			if r == "" {
				continue
			}
			ranges = append(ranges, p.Name+" "+r)
			start, end, ok := strings.Cut(r, "-")
			if !ok {
				end = start
			}
			if !(parkwire.Range{Start: start, End: end}).Contains(orbit) {
				continue
			}
			if !p.Up {
				return "Orbit " + orbit + " is on " + p.Name + ", which is down."
			}
			return ""
		}
	}
	if len(ranges) == 0 {
		return ""
	}
	return "Orbit " + orbit + " is not in any pool's orbit range (" + strings.Join(ranges, ", ") + ")."
}

// SIPSentence says in one sentence why act failed when the far end answered the SIP
// status code (RFC 3261 §21). subject names what it was about — the orbit of a park or
// retrieve, whom a call or transfer was to — or is "" when there is nothing to name.
// Codes the park service gives distinct meanings (ARCHITECTURE.md §3: 404 orbit not
// found, 480 no orbit available, 486 double park) are worded for park and retrieve.
func SIPSentence(act Action, code int, subject string) string {
	parking := act == ActionPark || act == ActionRetrieve
	who := subject
	if who == "" {
		who = "The other party"
	}
	orbit := "that orbit"
	if subject != "" {
		orbit = "orbit " + subject
	}
	switch {
	case code == 404 || code == 604 || code == 410 || code == 484:
		switch act {
		case ActionRetrieve:
			return "No call is parked on " + orbit + "."
		case ActionPark:
			if subject == "" {
				return "The park service was not found."
			}
			return capital(orbit) + " was not found: it is not one of the pool's orbits."
		}
		if subject == "" {
			return "The user or number was not found."
		}
		return "The user or number " + subject + " was not found."
	case code == 480:
		switch act {
		case ActionPark:
			return "No orbit is free to park on right now."
		case ActionRetrieve:
			return "The parked party did not take the call."
		}
		return who + " is not available right now."
	case code == 486 || code == 600:
		switch act {
		case ActionPark:
			return capital(orbit) + " is already in use."
		case ActionRetrieve:
			return "Someone else is already retrieving the call on " + orbit + "."
		}
		return who + " is busy."
	case code == 603:
		return who + " declined."
	case code == 408:
		if parking {
			return "The park time expired."
		}
		return who + " did not answer in time."
	case code == 487:
		return "It was cancelled before it was done."
	case code == 488 || code == 415 || code == 606:
		return "The other side cannot take G.711 audio, the only audio Parkway relays."
	case code == 401 || code == 407:
		return "The phone system did not accept the gateway's credentials."
	case code == 403:
		return "The phone system refused it."
	case code == 405 || code == 420 || code == 501:
		return "The other side does not support that."
	case code == 481:
		return "The call no longer exists at the far end."
	case code == 491:
		return "The other side was changing the call at the same moment; try again."
	case code >= 500 && code < 600:
		return "The phone system is unavailable right now; try again shortly."
	}
	return "The phone system refused it (SIP status " + itoa(code) + ")."
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
