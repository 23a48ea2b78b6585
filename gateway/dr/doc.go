// Package dr is the disaster-recovery controller: it probes the home and backup pools
// with SIP OPTIONS, runs the phase machine of DESIGN.md §2 and tells watchers about
// every change.
package dr
