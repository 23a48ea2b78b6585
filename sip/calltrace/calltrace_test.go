package calltrace

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestNewIsValidAndDistinct(t *testing.T) {
	a, b := New(), New()
	if !Valid(a) || !Valid(b) || a == b {
		t.Fatalf("New: %q %q", a, b)
	}
}

func TestValid(t *testing.T) {
	for id, want := range map[string]bool{
		"0123456789abcdef":                  true,
		"0123456789abcdef0123456789abcdef":  true,
		"0123456789abcde":                   false, // 15
		"0123456789abcdef0123456789abcdef0": false, // 33
		"0123456789ABCDEF":                  false,
		"0123456789abcdeg":                  false,
		"0123456789abcde\n":                 false,
		"":                                  false,
	} {
		if Valid(id) != want {
			t.Errorf("Valid(%q) = %v, want %v", id, !want, want)
		}
	}
}

func TestSetAndFrom(t *testing.T) {
	req := sip.NewRequest(sip.INVITE, sip.Uri{User: "bob", Host: "pool-a"})
	if From(req) != "" {
		t.Fatal("a request without the header has a trace")
	}
	Set(req, "0123456789abcdef")
	Set(req, "fedcba9876543210") // replaces, never two
	if got := From(req); got != "fedcba9876543210" {
		t.Fatalf("From = %q", got)
	}
	if n := len(req.GetHeaders(Header)); n != 1 {
		t.Fatalf("%d trace headers", n)
	}
	Set(req, "not a trace")
	if got := From(req); got != "fedcba9876543210" {
		t.Fatalf("an invalid id replaced the trace: %q", got)
	}
	req.RemoveHeader(Header)
	req.AppendHeader(sip.NewHeader(Header, "x; injected=1"))
	if got := From(req); got != "" {
		t.Fatalf("a malformed header read as %q", got)
	}
}
