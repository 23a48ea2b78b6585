package pool

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
)

// SIP over TLS (ARCHITECTURE.md §7). A pool with a TLS section listens for TLS besides
// UDP and TCP: the gateway sends its REGISTERs, INVITEs and SUBSCRIBEs there, and a
// peer configured with transport TLS is reached on its TLS listener, its certificate
// verified against the CA of this pool's TLS section. Phones and SIPp keep UDP and TCP.
// Requests sent over TLS carry a Via naming the TLS listener, so the peer's element
// check (trust.go) matches the address it has configured for us.

// tlsMaterial is a pool's TLS configuration, loaded once by New.
type tlsMaterial struct {
	server *tls.Config // the listener's
	client *tls.Config // dialling the peer: verifies its certificate
}

// loadTLS reads the certificate, key and CA files of c (or takes the in-memory ones).
func loadTLS(c *TLSConfig) (*tlsMaterial, error) {
	if c == nil {
		return nil, nil
	}
	cert := c.Certificate
	if cert == nil {
		pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.certFile %q, tls.keyFile %q: %w", c.CertFile, c.KeyFile, err)
		}
		cert = &pair
	}
	roots := c.RootCAs
	if roots == nil && c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.caFile: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.caFile %q: no PEM certificate in it", c.CAFile)
		}
	}
	return &tlsMaterial{
		server: &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12},
		client: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
	}, nil
}

// listenTLS opens the TLS listener on addr: TCP guarded like the plain one (a cap on
// connections, an idle timeout that also bounds the handshake), TLS inside that, and
// the framing of framedConn on the decrypted stream.
func (n *node) listenTLS(addr string) (net.Listener, error) {
	raw, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	opt := n.pool.opt
	return newGuardedListener(tls.NewListener(raw, n.pool.tls.server), opt.MaxTCPConns, opt.TCPIdleTimeout, n.log, n.order.Arrived), nil
}

// tlsPort is the port of the TLS listener, 0 without one.
func (n *node) tlsPort() int {
	if n.tlsL == nil {
		return 0
	}
	return n.tlsL.Addr().(*net.TCPAddr).Port
}

// TLSAddr is the host:port of the TLS listener while running (or last bound), else "".
func (p *Pool) TLSAddr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tlsAddr
}
