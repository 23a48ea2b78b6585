// Package dr is the disaster-recovery controller: it probes the home and backup pools
// with SIP OPTIONS, runs the phase machine of ARCHITECTURE.md §2 and tells watchers about
// every change.
//
// Entry points:
//   - [Next] is the phase machine, a pure function over [State] and [Event]; its table
//     is in machine.go, with the decisions the design left open and why.
//   - [New] and [Controller.Run] start the controller: one prober goroutine per pool
//     (prober.go), one connection watch per pool that notices a dead pool process by
//     its TCP/TLS connection's end (connwatch.go), the redirection of users through a
//     [Redirector], and the optional automatic failover and failback.
//   - [Controller.Snapshot] and [Controller.Subscribe] read the state; the gateway pushes
//     it to every session, the admin API (gateway/admin) serves it.
//   - [Controller.Failover] and [Controller.Failback] are the admin's requests; a refusal
//     is a [*TransitionError], which the admin API answers with 409.
package dr
