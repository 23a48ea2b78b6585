package media_test

import (
	"context"
	"errors"
	"net/netip"

	"github.com/pion/webrtc/v4"

	"github.com/parkway/parkway/media"
)

// A gateway call leg's life: answer the browser, point the bridge at the
// SIP peer from its SDP answer, hold, move the far end (park, retrieve,
// transfer) and hang up. Signaling (websocket, SIP) is the caller's.
func Example() {
	f, err := media.NewFactory(&media.Options{
		IPs:        []netip.Addr{netip.MustParseAddr("10.0.0.5")}, // the gateway's media address
		NAT1To1IPs: []string{"203.0.113.7"},                       // its public 1:1 NAT address
	})
	if err != nil {
		panic(err)
	}
	leg, err := f.NewLeg(&media.BridgeConfig{LocalAddr: netip.MustParseAddrPort("10.0.0.5:0")})
	if err != nil {
		panic(err)
	}
	defer leg.Close()

	var browserOffer webrtc.SessionDescription // from the websocket
	answer, err := leg.AcceptGathered(context.TODO(), browserOffer)
	if errors.Is(err, media.ErrNoG711) {
		return // tell the browser: G.711 required (SIP's analog is 488)
	}
	_ = answer // to the websocket

	law, _ := leg.Bridge().Codec()
	_ = leg.Bridge().LocalAddr() // into the SIP offer, with law and telephone-event

	// The SIP answer's c=/m= address, law and telephone-event type:
	_ = leg.Bridge().SetRemote(media.Remote{Addr: netip.MustParseAddrPort("10.0.0.9:4000"), Codec: law, EventPT: 101})

	leg.Bridge().SetDirection(media.SendOnly) // hold (re-INVITE a=sendonly)
	leg.Bridge().SetDirection(media.SendRecv) // resume

	// Parked: the media now comes from the park service. The browser
	// keeps hearing one continuous stream, no renegotiation.
	_ = leg.Bridge().SetRemote(media.Remote{Addr: netip.MustParseAddrPort("10.0.0.20:30000"), Codec: law})
}
