package softphone

import (
	"slices"

	"github.com/parkway/parkway/signaling"
)

// Gateways is where a tab connects (issue #11): the page's own gateway at first, and
// once a welcome lists the gateways of its cluster (signaling.Welcome.Gateways, a list
// the gateway vouches for; never one from the page's URL, which anybody could craft to
// collect tokens), that list. A link that drops is tried again on the same gateway —
// a blip must not move the tab away from the calls it holds there — and only an
// attempt that fails before the welcome moves on to the next gateway of the list,
// wrapping around, so a tab whose gateway died reaches the one that carries its
// calls on.
type Gateways struct {
	list []string
	cur  int
}

// NewGateways starts at own, the websocket of the page's own gateway.
func NewGateways(own string) Gateways { return Gateways{list: []string{own}} }

// URL is the gateway to connect to now.
func (g *Gateways) URL() string { return g.list[g.cur] }

// Learn takes the list a welcome from the current gateway gave. Entries that are not
// gateway websockets are dropped; the current gateway stays current (and stays in the
// list, first, if the welcome left it out).
func (g *Gateways) Learn(list []string) {
	cur := g.URL()
	var out []string
	for _, u := range list {
		if signaling.CheckGatewayURL(u) == nil && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	if len(out) == 0 {
		return
	}
	i := slices.Index(out, cur)
	if i < 0 {
		out = append([]string{cur}, out...)
		i = 0
	}
	g.list, g.cur = out, i
}

// Failed moves on to the next gateway after an attempt that did not reach the
// welcome; it reports whether there is another to move to.
func (g *Gateways) Failed() bool {
	if len(g.list) < 2 {
		return false
	}
	g.cur = (g.cur + 1) % len(g.list)
	return true
}
