package pool

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tortureSeeds adds the RFC 4475 messages to a fuzz corpus.
func tortureSeeds(f *testing.F) {
	for _, b := range tortureMessages(f) {
		f.Add(b)
	}
}

// tortureMessages are the RFC 4475 messages of testdata/rfc4475, decoded.
func tortureMessages(tb testing.TB) [][]byte {
	files, _ := filepath.Glob(filepath.Join("testdata", "rfc4475", "*.sip"))
	if len(files) == 0 {
		tb.Fatal("no RFC 4475 messages in testdata/rfc4475")
	}
	var out [][]byte
	for _, name := range files {
		text, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		b, err := decodeTorture(string(text))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzVetMessage: the pass in front of sipgo never panics, refuses only with the codes
// it means to, keeps the body as it was, and is idempotent — what it lets through, it
// lets through unchanged a second time.
func FuzzVetMessage(f *testing.F) {
	tortureSeeds(f)
	f.Add([]byte(rawRequest(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}, "UDP", "bob", "1 OPTIONS", "")))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, code, reason := vetMessage(raw)
		if code != 0 {
			if (code != 400 && code != 416 && code != 505) || reason == "" {
				t.Fatalf("refused with %d %q", code, reason)
			}
			return
		}
		end := bytes.Index(raw, []byte("\r\n\r\n"))
		if end >= 0 && !bytes.HasSuffix(out, raw[end:]) {
			t.Fatalf("body changed:\n%q\n%q", raw, out)
		}
		again, code, reason := vetMessage(out)
		if code != 0 || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q became %q (%d %s)", out, again, code, reason)
		}
	})
}

// FuzzPoolDatagram sends every input as a UDP datagram to a running pool — the read
// filter, vetMessage, sipgo's parser and the handlers, as a phone's message would meet
// them — and every 32 inputs checks that the pool still answers OPTIONS with 200. A
// panic anywhere crashes the fuzzer. The pool has no peer and no registrations, and it
// answers at the source address, so nothing it sends can leave loopback; responses that
// would be relayed on (our branch prefix, stray 2xx) are skipped to keep it so.
func FuzzPoolDatagram(f *testing.F) {
	tortureSeeds(f)
	cfg := testConfig("pool-a", Range{Start: "7000", End: "7099"})
	cfg.Domain = "example.com"
	p, err := New(cfg, Options{Logger: testLogger()})
	if err != nil {
		f.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { p.Stop() })
	ra, _ := net.ResolveUDPAddr("udp", p.Addr())
	c, err := net.DialUDP("udp", nil, ra)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { c.Close() })
	n := 0
	f.Fuzz(func(t *testing.T, raw []byte) {
		if bytes.Contains(raw, []byte(branchPrefix)) || len(raw) > 64*1024 {
			return
		}
		if _, err := c.Write(raw); err != nil {
			return // e.g. too large for a datagram
		}
		if n++; n%32 != 0 {
			return
		}
		probe := rawRequest(c.LocalAddr(), "UDP", "", "1 OPTIONS", "")
		id := tortureCallID([]byte(probe))
		c.Write([]byte(probe))
		buf := make([]byte, 65535)
		deadline := time.Now().Add(10 * time.Second)
		for {
			c.SetReadDeadline(deadline)
			k, err := c.Read(buf)
			if err != nil {
				t.Fatalf("the pool stopped answering OPTIONS after %q", raw)
			}
			if code, got := statusAndCallID(buf[:k]); got == id && code >= 200 {
				if code != 200 && !strings.HasPrefix(string(buf[:k]), "SIP/2.0 503") {
					t.Fatalf("OPTIONS answered %d", code)
				}
				return
			}
		}
	})
}

// BenchmarkVetMessage is the cost vetMessage adds to every message, beside sipgo's own
// parse of the same ordinary request.
func BenchmarkVetMessage(b *testing.B) {
	msg := []byte(rawRequest(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}, "UDP", "bob", "1 OPTIONS", ""))
	b.Run("vet", func(b *testing.B) {
		for b.Loop() {
			vetMessage(msg)
		}
	})
	b.Run("sipgo-parse", func(b *testing.B) {
		for b.Loop() {
			guardParser.ParseSIP(msg)
		}
	})
}
