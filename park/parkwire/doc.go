// Package parkwire is the Call Park contract: what crosses the wire between
// the park service (package park) and its clients — the gateway's SIP user
// agent (gateway/ua), the gateway's parked-call feed, the pool's proxy and
// the browser's signaling (package signaling, compiled into the wasm
// client).
//
// It holds the names a client must spell like the service does (ParkUser,
// OrbitHeader, the event packages and their body type), the JSON body of
// an x-parkway-park NOTIFY (PublishedPark, Event, ParkedCall, State) and
// Lync's orbit number rule (ValidOrbit, Range). It imports only the
// standard library, so depending on it never pulls in sipgo or the
// service.
package parkwire
