package inorder

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// parsedEntry is what Arrived or ArrivedResponse queue for a parsed message.
func parsedEntry(m sip.Message) (k dialogKey, id, skip string, ok bool) {
	switch m := m.(type) {
	case *sip.Request:
		if m.IsCancel() {
			return k, "", "", false
		}
		if k, ok = keyOf(m); !ok {
			return k, "", "", false
		}
		if m.IsAck() {
			skip = idOf(m, sip.INVITE)
		}
		return k, idOf(m, m.Method), skip, true
	case *sip.Response:
		cs := m.CSeq()
		if m.StatusCode == 100 || cs == nil || cs.MethodName == sip.CANCEL || cs.MethodName == sip.BYE {
			return k, "", "", false
		}
		if k, ok = keyOf(m); !ok {
			return k, "", "", false
		}
		return k, responseID(m), "", true
	}
	return k, "", "", false
}

// msg joins header lines with CRLF and ends the header block.
func msg(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n\r\n" }

// scanCorpus: the messages of the park path as SIPp and sipgo write them (which Scan
// must read, or the fast path is never taken), and variants it must refuse or read as
// the parser does.
var scanCorpus = []struct {
	raw      string
	wantScan bool
}{
	{msg("SIP/2.0 200 OK",
		"Via: SIP/2.0/UDP 127.0.0.1:60248;branch=z9hG4bK.pw28b0b4601728e0ac.31fce37fe227, SIP/2.0/UDP 127.0.0.1:44808;branch=z9hG4bK-13316-1-0;rport=44808",
		"From: <sip:alice@pool-a>;tag=13316alice1", "To: <sip:bob@pool-a>;tag=13311bob1",
		"Call-ID: 1-13316@127.0.0.1", "CSeq: 1 INVITE", "Contact: <sip:bob@127.0.0.1:36582>",
		"Content-Type: application/sdp", "Content-Length:   0"), true},
	{msg("ACK sip:bob@127.0.0.1:36582 SIP/2.0", "Via: SIP/2.0/UDP 127.0.0.1:44808;branch=z9hG4bK-13316-1-5",
		"From: <sip:alice@pool-a>;tag=13316alice1", "To:  <sip:bob@pool-a>;tag=13311bob1",
		"Call-ID: 1-13316@127.0.0.1", "CSeq: 1 ACK", "Max-Forwards: 70", "Content-Length: 0"), true},
	{msg("SIP/2.0 200 OK", "Via: SIP/2.0/UDP 127.0.0.1:52998;branch=z9hG4bK.QdFKVBsH6glk0Efi;rport=52998",
		`From: "Call Park" <sip:park@pool-a>;tag=VH3vCgD6dOBjIV9T`, "To: <sip:alice@pool-a>;tag=13313msg1",
		"Call-ID: 33519bdb-d776-4be2-a2c9-ce317a860650", "CSeq: 8010 MESSAGE", "Content-Length: 0"), true},
	{msg("INVITE sip:100000@pool-a SIP/2.0", "Via: SIP/2.0/UDP 127.0.0.1:36582;branch=z9hG4bK-1-9",
		"From: <sip:bob@pool-a>;tag=13311bob2", "To: <sip:100000@pool-a>", "Call-ID: 1-13316@127.0.0.1",
		"CSeq: 1 INVITE", "Referred-By: <sip:alice@pool-a>", "Content-Length: 0"), true},
	{msg("BYE sip:park@127.0.0.1:52998 SIP/2.0", "v: SIP/2.0/UDP 127.0.0.1:36582;rport;branch=z9hG4bK-1-12",
		"f: sipp <sip:bob@pool-a>;tag=b2", "t: <sip:100000@pool-a>;tag=9b1917cf-c99c", "i: 7@h",
		"CSeq: 3 BYE", "l: 0"), true},
	{msg("SIP/2.0 180 Ringing", "Via: SIP/2.0/UDP h:1;branch=z9hG4bK1", "Via: SIP/2.0/UDP h:2;branch=z9hG4bK2",
		"From: <sip:a@x>;tag=1", "To: <sip:b@x>;tag=2", "Call-ID: c", "CSeq: 4 INVITE"), true},
	{msg("SIP/2.0 100 Trying", "Via: SIP/2.0/UDP h:1;branch=z9hG4bK1", "From: <sip:a@x>;tag=1", "To: <sip:b@x>",
		"Call-ID: c", "CSeq: 4 INVITE"), true},
	{msg("BYE sip:b@x SIP/2.0", "Via: SIP/2.0/UDP h:1;branch=z9hG4bK1;rport=5060;received=h", "From: <sip:a@x>;tag=1",
		"To: <sip:b@x>;tag=2", "Call-ID: c", "CSeq: 4 BYE"), true},
	{msg("BYE sip:b@x SIP/2.0", "Via: SIP/2.0/UDP h:1;branch=z9hG4bK1;RPort", "From: <sip:a@x>;tag=1",
		"To: <sip:b@x>;tag=2", "Call-ID: c", "CSeq: 4 BYE"), false},
	{msg("CANCEL sip:b@x SIP/2.0", "Via: SIP/2.0/UDP h:1;branch=z9hG4bK1", "From: <sip:a@x>;tag=1",
		"To: <sip:b@x>;tag=2", "Call-ID: c", "CSeq: 4 CANCEL"), true},
	{msg("NOTIFY sip:b@x SIP/2.0", "Via: SIP/2.0/UDP h:1;branch=z9hG4bK1", "From: <sip:a@x>;tag=1",
		"To: <sip:b@x>;tag=2", "Call-ID: c", "CSeq: 2 NOTIFY", "Event: refer"), true},
	// Refused: folded, quoted oddly, a list, missing or doubled headers, odd spellings.
	{msg("NOTIFY sip:b@x SIP/2.0", "Via: SIP/2.0/UDP h:1", " ;branch=z9hG4bK1", "From: <sip:a@x>;tag=1",
		"To: <sip:b@x>;tag=2", "Call-ID: c", "CSeq: 2 NOTIFY"), false},
	{msg("NOTIFY sip:b@x SIP/2.0", "Via: SIP/2.0/UDP h:1;branch=z9hG4bK1", `From: "a\"b" <sip:a@x>;tag=1`,
		"To: <sip:b@x>;tag=2", "Call-ID: c", "CSeq: 2 NOTIFY"), false},
	{msg("NOTIFY sip:b@x SIP/2.0", "Via: SIP/2.0/UDP h:1;branch=z9hG4bK1", `From: "Doe, J" <sip:a@x>;tag=1`,
		"To: <sip:b@x>;tag=2", "Call-ID: c", "CSeq: 2 NOTIFY"), false},
	{msg("NOTIFY sip:b@x SIP/2.0", "Via: SIP/2.0/UDP h:1;branch=z9hG4bK1", "From: sip:a@x;tag=1",
		"To: <sip:b@x>;tag=2", "Call-ID: c", "CSeq: 2 NOTIFY"), false},
	{msg("NOTIFY sip:b@x SIP/2.0", "Via: SIP/2.0/UDP h:1;branch=z9hG4bK1", "From: <sip:a@x>;Tag=1",
		"To: <sip:b@x>;tag=2", "Call-ID: c", "CSeq: 2 NOTIFY"), false},
	{msg("NOTIFY sip:b@x SIP/2.0", "Via: SIP/2.0/UDP h:1;branch=z9hG4bK1", "From: <sip:a@x>;tag=1",
		"To: <sip:b@x>;tag=2", "To: <sip:b@x>;tag=3", "Call-ID: c", "CSeq: 2 NOTIFY"), false},
	{msg("NOTIFY sip:b@x SIP/2.0", "Via: SIP/2.0/UDP h:1;branch=z9hG4bK1", "From: <sip:a@x>;tag=1",
		"To: <sip:b@x>;tag=2", "CSeq: 2 NOTIFY"), false},
	{msg("NOTIFY sip:b@x SIP/2.0", "Via: SIP/2.0/UDP h:1;branch=z9hG4bK1", "From: <sip:a@x>;tag=1",
		"To: <sip:b@x>;tag=2", "Call-ID: c", "CSeq: 2  NOTIFY"), false},
	{msg("notify sip:b@x SIP/2.0", "Via: SIP/2.0/UDP h:1;branch=z9hG4bK1", "From: <sip:a@x>;tag=1",
		"To: <sip:b@x>;tag=2", "Call-ID: c", "CSeq: 2 NOTIFY"), false},
	{msg("NOTIFY sip:b@x SIP/2.0", "Via : SIP/2.0/UDP h:1;branch=z9hG4bK1", "From: <sip:a@x>;tag=1",
		"To: <sip:b@x>;tag=2", "Call-ID: c", "CSeq: 2 NOTIFY"), false},
	{msg("NOTIFY sip:b@x SIP/2.0", "Via: SIP/2.0/UDP h:1 ;branch=z9hG4bK1", "From: <sip:a@x>;tag=1",
		"To: <sip:b@x>;tag=2", "Call-ID: c", "CSeq: 2 NOTIFY"), false},
	{msg("NOTIFY sip:b@x SIP/2.0", "Via: SIP/2.0/UDP h:1;branch=z9hG4bK1", "From: <sip:a@x>;tag=1",
		"To: <sip:b@x>;tag=2", "Call-ID: c", "CSeq: 99999999999 NOTIFY"), false},
	{"NOTIFY sip:b@x SIP/2.0\r\nCall-ID: c\r\n", false},
}

// TestScanAgreesWithParse: on every message of the corpus that Scan reads and sipgo
// parses, the Queue gets the same entry either way; the park path's own messages are
// read (so the fast path is taken), and the odd ones are refused.
func TestScanAgreesWithParse(t *testing.T) {
	for i, c := range scanCorpus {
		if _, ok := Scan([]byte(c.raw)); ok != c.wantScan {
			t.Errorf("message %d: Scan read it: %v, want %v\n%s", i, ok, c.wantScan, c.raw)
		}
		if _, err := sip.NewParser().ParseSIP([]byte(c.raw)); c.wantScan && err != nil {
			t.Errorf("message %d does not parse, so it checks nothing: %v", i, err)
		}
		checkScanAgrees(t, []byte(c.raw))
	}
}

func checkScanAgrees(t *testing.T, raw []byte) {
	t.Helper()
	s, ok := Scan(raw)
	if !ok {
		return
	}
	m, err := sip.NewParser().ParseSIP(raw)
	if err != nil {
		return
	}
	_, isRes := m.(*sip.Response)
	if s.Response() != isRes {
		t.Fatalf("Scan says response %v, the parser %T:\n%q", s.Response(), m, raw)
	}
	k1, id1, skip1, ok1 := s.entry()
	k2, id2, skip2, ok2 := parsedEntry(m)
	if ok1 != ok2 || ok1 && (k1 != k2 || id1 != id2 || skip1 != skip2) {
		t.Fatalf("Scan queues %v %+v %q %q, the parser %v %+v %q %q:\n%q", ok1, k1, id1, skip1, ok2, k2, id2, skip2, raw)
	}
	// What a read filter takes from Scan instead of the parse (pool's readFilter).
	method := ""
	switch m := m.(type) {
	case *sip.Request:
		method = string(m.Method)
	case *sip.Response:
		method = string(m.CSeq().MethodName)
	}
	toTag, _ := m.To().Params.Get("tag")
	branch, rport := "", false
	if v := m.Via(); v != nil {
		branch, _ = v.Params.Get("branch")
		rport = v.Params.Has("rport")
	}
	status := 0
	if res, ok := m.(*sip.Response); ok {
		status = res.StatusCode
	}
	if s.CSeqMethod() != string(m.CSeq().MethodName) || s.Status() != status {
		t.Fatalf("Scan reads CSeq method %q, status %d; the parser %q %d:\n%q", s.CSeqMethod(), s.Status(), m.CSeq().MethodName, status, raw)
	}
	if s.Method() != method || s.ToTag() != toTag || s.Branch() != branch || s.Rport() != rport {
		t.Fatalf("Scan reads method %q, To tag %q, branch %q, rport %v; the parser %q %q %q %v:\n%q",
			s.Method(), s.ToTag(), s.Branch(), s.Rport(), method, toTag, branch, rport, raw)
	}
}

// FuzzScan holds Scan to the parser on anything both read.
func FuzzScan(f *testing.F) {
	for _, c := range scanCorpus {
		f.Add([]byte(c.raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkScanAgrees(t, raw) })
}

// BenchmarkScan: Scan against sipgo's parse of the same message (a relayed 200 to an
// INVITE with two Vias and SDP), what the read filters did before to order it.
func BenchmarkScan(b *testing.B) {
	raw := []byte(strings.TrimSuffix(scanCorpus[0].raw, "Content-Length:   0\r\n\r\n") +
		"Content-Length: 111\r\n\r\nv=0\r\no=bob 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6004 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
	if _, err := sip.NewParser().ParseSIP(raw); err != nil {
		b.Fatal(err)
	}
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := Scan(raw); !ok {
				b.Fatal("not scanned")
			}
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		p := sip.NewParser()
		for b.Loop() {
			if _, err := p.ParseSIP(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
