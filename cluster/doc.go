// Package cluster is the state several Parkway gateways share, on NATS JetStream: one
// disaster-recovery phase for the whole cluster, the session signing key, and the
// spent widget tickets (issue #11, ARCHITECTURE.md §9).
//
// Every gateway runs on it: without a cluster section in its config, cmd/parkway gives
// it a one-node cluster in memory, so that one machine and many run the same code.
//
// A [Node] is the gateway's NATS: an embedded single-node nats-server with JetStream
// and no listener at all (the default: in-process connection), external NATS servers
// ([Config].NATS), or an embedded node clustered with the other gateways' nodes
// ([Config].Listen and [Config].Routes: three gateway processes form a NATS cluster
// whose key-value buckets are replicated three times).
//
// [DR] runs the phase machine of gateway/dr (dr.Next) for the cluster. Every gateway
// probes both pools with a dr.Controller of its own and publishes what it sees in the
// gateways bucket (one key per gateway, refreshed; a key not refreshed within
// ReportTTL is a gateway gone). One gateway leads, holding the lease key (create if
// absent, renewed by revision, taken over by a compare-and-set once it has not been
// renewed for its TTL — NATS does the consensus, we do no voting): it turns the gateways' reports into events — a pool is down only
// when a majority of the live gateways see it down, users are redirected only when
// every live gateway reports its own users moved — and writes the phase with a
// revision check; it also makes the automatic failover and failback of
// dr.Config.AutoFailoverAfter/AutoFailbackAfter, their deadlines kept in the phase
// record so that a new leader goes on with them. Every gateway watches the phase key, pushes it to its tabs, and moves
// its own users where the phase wants them. An admin failover or failback on any
// gateway is a compare-and-set on the phase's revision: of two at once, one gets 409.
//
// [Dialogs] keeps every established call's SIP dialog (ua.DialogRecord) in a bucket and
// lets exactly one survivor — the dead gateway's successor by name first — adopt the
// calls of a gateway that died (claim by create-if-absent), through the gateway's Adopt
// hook: a re-INVITE in the same dialog toward the adopter's media (dialogs.go).
//
// [Tickets] is an auth.SpentStore on a bucket (create if absent: a widget ticket is
// spent once cluster-wide) and [SessionKey] the signing key kept in the cluster.
package cluster
