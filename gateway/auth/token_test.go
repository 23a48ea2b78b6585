package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func newSigner(t *testing.T) *Signer {
	t.Helper()
	s, err := NewSigner(nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestIssueVerify(t *testing.T) {
	s := newSigner(t)
	tok, issued, err := s.Issue("alice", KindSession, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) > 200 {
		t.Errorf("token is %d bytes; keep it short", len(tok))
	}
	c, err := s.Verify(tok, KindSession)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if c.User != "alice" || c.ID != issued.ID || !c.ExpiresAt.Equal(issued.ExpiresAt) {
		t.Errorf("claims %+v, issued %+v", c, issued)
	}
}

func TestExpired(t *testing.T) {
	s := newSigner(t)
	past := time.Now().Add(-2 * time.Hour)
	s.Now = func() time.Time { return past }
	tok, _, err := s.Issue("bob", KindSession, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = time.Now
	if _, err := s.Verify(tok, KindSession); !errors.Is(err, ErrExpired) {
		t.Errorf("verify expired: %v, want ErrExpired", err)
	}
}

func TestTampered(t *testing.T) {
	s := newSigner(t)
	tok, _, _ := s.Issue("carol", KindSession, time.Hour)
	other, _, _ := newSigner(t).Issue("carol", KindSession, time.Hour)
	dot := strings.LastIndexByte(tok, '.')
	// Swap the user inside the payload, keep the signature.
	forged, _, _ := s.Issue("dave", KindSession, time.Hour)
	cases := map[string]string{
		"other key":        other,
		"payload swapped":  forged[:strings.LastIndexByte(forged, '.')] + tok[dot:],
		"signature bit":    tok[:dot+1] + flip(tok[dot+1]) + tok[dot+2:],
		"signature tail":   tok[:len(tok)-1] + flip(tok[len(tok)-1]), // padding bits too
		"payload bit":      tok[:5] + flip(tok[5]) + tok[6:],
		"no signature":     tok[:dot],
		"empty":            "",
		"wrong prefix":     "xx1" + tok[3:],
		"not base64":       tok[:dot] + ".!!!",
		"too long":         tok + strings.Repeat("A", 2000),
		"two dots in body": "pk1.a.b.c",
	}
	for name, bad := range cases {
		if _, err := s.Verify(bad, KindSession); err == nil {
			t.Errorf("%s: verified", name)
		} else if !errors.Is(err, ErrSignature) && !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestKindIsChecked(t *testing.T) {
	s := newSigner(t)
	tok, _, _ := s.Issue("alice", KindTicket, time.Minute)
	if _, err := s.Verify(tok, KindSession); !errors.Is(err, ErrKind) {
		t.Errorf("a ticket passed as a session: %v", err)
	}
}

func TestConfiguredKey(t *testing.T) {
	if _, err := NewSigner([]byte("short")); err == nil {
		t.Error("a 5-byte key was accepted")
	}
	key := []byte(strings.Repeat("k", 32))
	a, err := NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSigner(key)
	tok, _, _ := a.Issue("alice", KindSession, time.Hour)
	if _, err := b.Verify(tok, KindSession); err != nil {
		t.Errorf("same key, other signer: %v", err)
	}
	key[0] = 'x' // the signer keeps its own copy
	if _, err := a.Verify(tok, KindSession); err != nil {
		t.Errorf("caller's key mutation changed the signer: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	s, _ := NewSigner([]byte(strings.Repeat("f", 32)))
	tok, _, _ := s.Issue("alice", KindSession, time.Hour)
	f.Add(tok)
	f.Add("pk1..")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := s.Verify(in, KindSession)
		if err == nil && in != tok && c.User == "" {
			t.Errorf("accepted %q with no user", in)
		}
	})
}
