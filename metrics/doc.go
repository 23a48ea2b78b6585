// Package metrics defines every Prometheus metric Parkway exports, the gateway's
// (Gateway) and a pool's (Pool), and the operations endpoints that serve them with the
// health checks (Handler: /metrics, /healthz, /readyz). Each process — or each pool of
// the demo — has its own registry, never Prometheus' global one, so tests run several
// in one process. It imports only Prometheus' client and the leaf contracts
// (signaling); the packages that have the signals call it, and a nil *Gateway or
// *Pool ignores every call, so code under test needs none.
//
// Labels are bounded sets: phases, pool names from the config, message types and error
// codes of the signaling contract, actions, SIP status classes. Never a call id, a user
// or an address.
//
// Gateway (parkway gateway, parkway demo: the gateway's HTTP server):
//
//	parkway_dr_phase{phase}                          gauge: 1 for the current DR phase, 0 for the four others
//	parkway_dr_pool_healthy{pool,role}               gauge: 1 while the prober counts the pool healthy
//	parkway_dr_probe_rtt_seconds{pool}               histogram: OPTIONS probe round trip (answered probes)
//	parkway_dr_probe_misses_total{pool}              counter: probes unanswered in time or answered ≥ 500
//	parkway_dr_phase_transitions_total{from,to,cause} counter: phase changes; cause is the machine's event (home-down, redirected, failover, …)
//	parkway_dr_redirect_duration_seconds{to,result}  histogram: one redirection attempt of every user (result ok|error)
//	parkway_ws_sessions                              gauge: authenticated websocket sessions
//	parkway_ws_messages_received_total{type}         counter: frames from tabs by signaling type ("invalid" when not decodable)
//	parkway_ws_messages_sent_total                   counter: frames written to tabs
//	parkway_ws_refusals_total{code}                  counter: error messages sent to tabs, by signaling error code
//	parkway_ws_rejected_total{reason}                counter: websocket upgrades refused (draining, full)
//	parkway_calls{state}                             gauge: calls the gateway carries, by signaling call state
//	parkway_call_actions_total{action,outcome}       counter: call actions carried out (outcome ok or the error code)
//	parkway_call_action_duration_seconds{action}     histogram: how long an action took; action="call" is call setup (dial to answer)
//	parkway_draining                                 gauge: 1 while the gateway drains (SIGTERM)
//	parkway_relay_packets_total{direction}           counter: RTP relayed, direction to_sip|to_browser
//	parkway_relay_dropped_total{reason}              counter: RTP dropped by the bridge (wrong_source, malformed, unknown_payload, codec_mismatch, no_route, write_error)
//	parkway_relay_late_packets_total{direction}      counter: RTP that arrived out of order or duplicated (direction from_sip)
//	parkway_relay_lost_packets_total{direction}      counter: RTP missing in the sequence from the SIP peer (direction from_sip)
//	parkway_relay_jitter_seconds{direction}          gauge: largest interarrival jitter among live calls (from_sip: ours; to_sip: the SIP peer's reports)
//	parkway_relay_legs                               gauge: live media legs
//
// Pool (parkway pool with an http address, and each pool of parkway demo; every series
// carries the constant label pool):
//
//	parkway_pool_up                                  gauge: 1 while the SIP listeners are up
//	parkway_pool_draining                            gauge: 1 while draining (SIGTERM)
//	parkway_pool_registered_users                    gauge: users with at least one live registration
//	parkway_park_orbits_in_use                       gauge: calls parked now
//	parkway_park_events_total{event}                 counter: parked, ringing-back (one per ring-back), retrieved, timed-out, disconnected
//	parkway_park_refusals_total{code}                counter: park or retrieve requests refused, by SIP status (404, 480, 486, 488, 503, …)
//
// Both: the Go runtime and process collectors (go_*, process_*).
package metrics
