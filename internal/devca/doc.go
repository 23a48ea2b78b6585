// Package devca makes a small certificate authority and the certificates SIP over TLS
// between the gateway and the pools needs (ARCHITECTURE.md §7): a throw-away one in
// memory for `parkway demo` and the tests, or files on disk for a real deployment
// (`parkway certs`). It uses crypto/x509 only: ECDSA P-256 keys, a CA that may sign
// server and client certificates but no further CAs, and leaf certificates that name
// their hosts as IP or DNS subject alternative names — the pools are dialled by IP, so
// a pool's certificate must list the IP it listens on.
package devca
