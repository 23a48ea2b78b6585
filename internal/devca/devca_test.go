package devca

import (
	"crypto/x509"
	"testing"
	"time"
)

// A leaf verifies against its CA for the hosts it names, and not against another CA or
// for another host.
func TestIssueVerifies(t *testing.T) {
	ca, err := New("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue("pool-a", "127.0.0.1", "pool-a.example")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(leaf.TLS.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "pool-a.example"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: host}); err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "127.0.0.2"}); err == nil {
		t.Error("verified for a host it does not name")
	}
	other, _ := New("other CA", time.Hour)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: other.Pool(), DNSName: "127.0.0.1"}); err == nil {
		t.Error("verified against another CA")
	}
}

// WriteCA and Load round-trip, so `parkway certs` can issue more later.
func TestWriteLoad(t *testing.T) {
	dir := t.TempDir()
	ca, err := New("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteCA(dir); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := back.Issue("pool-b", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(leaf.TLS.Certificate[0])
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("leaf of the loaded CA: %v", err)
	}
}
