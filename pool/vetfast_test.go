package pool

import (
	"bytes"
	"fmt"
	"net"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// vetAgrees fails t when vetClean calls raw clean but vetMessage's full pass would
// change or refuse it.
func vetAgrees(t *testing.T, raw []byte) {
	t.Helper()
	if !vetClean(raw) {
		return
	}
	if out, code, reason := vetFull(raw); code != 0 || !bytes.Equal(out, raw) {
		t.Fatalf("vetClean took %q, the full pass gives %d %q and %q", raw, code, reason, out)
	}
}

// TestVetCleanAgreesWithVet runs the RFC 4475 messages and ordinary requests and
// responses through both passes.
func TestVetCleanAgreesWithVet(t *testing.T) {
	torture := tortureMessages(t)
	clean := 0
	for _, raw := range torture {
		vetAgrees(t, raw)
		if vetClean(raw) {
			clean++
		}
	}
	from := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}
	ordinary := [][]byte{
		[]byte(rawRequest(from, "UDP", "bob", "1 OPTIONS", "")),
		[]byte("INVITE sip:bob@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1-1-0\r\n" +
			"From: <sip:alice@pool-a>;tag=1alice1\r\nTo: <sip:bob@pool-a>\r\nCall-ID: 1-1@127.0.0.1\r\nCSeq: 1 INVITE\r\n" +
			"Contact: <sip:alice@127.0.0.1:5070>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"),
		[]byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1;rport=5060\r\n" +
			"From: <sip:alice@pool-a>;tag=1\r\nTo: \"Bob\" <sip:bob@pool-a>;tag=2\r\nCall-ID: c1\r\n" +
			"CSeq: 2 REFER\r\nContact: <sip:bob@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n"),
	}
	// As SIPp writes them (issue #12): a header value copied with its leading SP into
	// "To: [$to]", and a response's Vias as one list with ", ".
	ordinary = append(ordinary,
		[]byte("ACK sip:bob@127.0.0.1:36453 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:36355;branch=z9hG4bK-1-1-5\r\n"+
			"From: <sip:alice@pool-a>;tag=1alice1\r\nTo:  <sip:bob@pool-a>;tag=1bob1\r\nCall-ID: 1-1@127.0.0.1\r\n"+
			"CSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"),
		[]byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:60011;branch=z9hG4bK.pw1, SIP/2.0/UDP 127.0.0.1:36355;branch=z9hG4bK-1-1-0;rport=36355\r\n"+
			"From: <sip:alice@pool-a>;tag=1alice1\r\nTo: <sip:bob@pool-a>;tag=1bob1\r\nCall-ID: 1-1@127.0.0.1\r\n"+
			"CSeq: 1 INVITE\r\nContent-Length:   0\r\n\r\n"),
	)
	for _, raw := range ordinary {
		vetAgrees(t, raw)
		if !vetClean(raw) {
			t.Errorf("an ordinary message took the full pass: %q", raw)
		}
	}
	// Each of these differs from a clean message in one thing the full pass changes
	// or refuses.
	for _, raw := range []string{
		"OPTIONS sip:bob@h SIP/2.0\r\nVia: SIP/2.0/UDP h ;branch=z9hG4bK1\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n",
		"OPTIONS sip:bob@h SIP/2.0\r\nVia: \tSIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n",
		"OPTIONS sip:bob@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1,  SIP/2.0/UDP g;branch=z9hG4bK2\r\nCSeq: 1 OPTIONS\r\n\r\n",
		"OPTIONS sip:bob@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1 , SIP/2.0/UDP g;branch=z9hG4bK2\r\nCSeq: 1 OPTIONS\r\n\r\n",
		"OPTIONS sip:bob@h SIP/2.0\r\nTo:  <sip:bob@h> \r\nCSeq: 1 OPTIONS\r\n\r\n",
		"OPTIONS sip:bob@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: c\r\nCall-ID: d\r\nCSeq: 1 OPTIONS\r\n\r\n",
		"OPTIONS sip:bob@h SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n",
		"OPTIONS sip:bob@h SIP/2.0\r\nCSeq: 1  OPTIONS\r\n\r\n",
		"OPTIONS sip:bob@h?x=y SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n",
		"OPTIONS http://h SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n",
		"OPTIONS sip:bob@h SIP/3.0\r\nCSeq: 1 OPTIONS\r\n\r\n",
		"OPTIONS sip:bob@h SIP/2.0\r\nTo: sip:bob@h\r\n ;tag=1\r\n\r\n",
		"OPTIONS sip:bob@h SIP/2.0\r\nContact: <sip:a@h>, <sip:b@h>\r\n\r\n",
		"OPTIONS sip:bob@h SIP/2.0\r\nV\u0130A: SIP/2.0/UDP h ;branch=z9hG4bK1\r\n\r\n",
		"OPTIONS sip:bob@h SIP/2.0\r\nContent-Length: 0\r\nl: 0\r\n\r\n",
		"OPTIONS sip:bob@h SIP/2.0\r\nFrom: Bob\t<sip:bob@h>;tag=1\r\n\r\n",
	} {
		if vetClean([]byte(raw)) {
			t.Errorf("vetClean took %q, which the full pass must see", raw)
		}
		vetAgrees(t, []byte(raw))
	}
	t.Logf("%d of %d RFC 4475 messages clean", clean, len(torture))
}

// TestVetKeptSpaceParses: the white space the full pass now leaves (a run of SPs before
// a value, one SP after a comma in a Via list) is read by sipgo exactly as the tight
// form is, so a message the quick path passes means what the full pass would have
// made of it.
func TestVetKeptSpaceParses(t *testing.T) {
	const tmpl = "SIP/2.0 200 OK\r\nVia:%sSIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1;rport=5060,%sSIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK2\r\n" +
		"From:%s<sip:alice@pool-a>;tag=1\r\nTo:%s\"Bob\" <sip:bob@pool-a>;tag=2\r\nCall-ID: c1\r\nCSeq: 2 REFER\r\n" +
		"Contact:%s<sip:bob@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n"
	parse := func(sp, comma string) string {
		t.Helper()
		raw := []byte(fmt.Sprintf(tmpl, sp, comma, sp, sp, sp))
		out, code, reason := vetMessage(raw)
		if code != 0 || !bytes.Equal(out, raw) {
			t.Fatalf("vetMessage(%q) = %d %s, %q: want it passed as it is", raw, code, reason, out)
		}
		m, err := guardParser.ParseSIP(out)
		if err != nil {
			t.Fatalf("sipgo cannot parse %q: %v", out, err)
		}
		res := m.(*sip.Response)
		if n := len(res.GetHeaders("Via")); n != 2 {
			t.Fatalf("%q: %d Vias, want 2", out, n)
		}
		return res.String()
	}
	want := parse(" ", "")
	for _, c := range []struct{ sp, comma string }{{"  ", ""}, {" ", " "}, {"   ", " "}} {
		if got := parse(c.sp, c.comma); got != want {
			t.Errorf("SP %q, after the comma %q: sipgo reads\n%s\nthe tight form\n%s", c.sp, c.comma, got, want)
		}
	}
}

// FuzzVetClean: whatever vetClean accepts, the full pass leaves as it is.
func FuzzVetClean(f *testing.F) {
	tortureSeeds(f)
	f.Add([]byte(rawRequest(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}, "UDP", "bob", "1 OPTIONS", "")))
	f.Fuzz(func(t *testing.T, raw []byte) { vetAgrees(t, raw) })
}
