// Package demousers is the one list of the demo's users (ARCHITECTURE.md §4) and their
// published digest passwords. It imports nothing of Parkway, so the gateway (which signs
// them in by name) and the pools (which check their passwords) both take it from here
// without importing each other. The passwords are public on purpose: never use them for
// real.
package demousers
