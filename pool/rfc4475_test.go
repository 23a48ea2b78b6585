package pool

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The 49 torture messages of RFC 4475 §3 live in testdata/rfc4475, one file each, in
// the RFC's own notation (§2): every line ends in CRLF; <allOneLine> … </allOneLine>
// joins the lines between into one; <hex>…</hex> stands for the bytes it spells;
// <repeat count=N>…</repeat> for N copies. decodeTorture turns a file into the exact
// bytes of the message.
var (
	hexTag    = regexp.MustCompile(`<hex>([0-9A-Fa-f]*)</hex>`)
	repeatTag = regexp.MustCompile(`<repeat count=(\d+)>(.*?)</repeat>`)
)

func decodeTorture(text string) ([]byte, error) {
	text = strings.TrimSuffix(text, "\n")
	var lines []string
	var joined *strings.Builder
	for _, l := range strings.Split(text, "\n") {
		switch {
		case l == "<allOneLine>":
			joined = &strings.Builder{}
		case l == "</allOneLine>":
			lines = append(lines, joined.String())
			joined = nil
		case joined != nil:
			joined.WriteString(l)
		default:
			lines = append(lines, l)
		}
	}
	if joined != nil {
		return nil, fmt.Errorf("unterminated <allOneLine>")
	}
	s := strings.Join(lines, "\r\n") + "\r\n"
	s = repeatTag.ReplaceAllStringFunc(s, func(m string) string {
		g := repeatTag.FindStringSubmatch(m)
		n, _ := strconv.Atoi(g[1])
		return strings.Repeat(g[2], n)
	})
	var err error
	s = hexTag.ReplaceAllStringFunc(s, func(m string) string {
		b, e := hex.DecodeString(hexTag.FindStringSubmatch(m)[1])
		if e != nil {
			err = e
		}
		return string(b)
	})
	return []byte(s), err
}

func loadTorture(t testing.TB, name string) []byte {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", "rfc4475", name+".sip"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := decodeTorture(string(text))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b
}

// A torture case: what the RFC expects of an element like the pool (a registrar and
// proxy) when the message arrives. want lists the acceptable final status codes; nil
// means the message must be dropped without an answer (responses that match no
// transaction, and start lines that cannot be read). answered means any final answer
// but 400 will do: the message is valid, and what the pool answers (403 for a Route
// it will not follow, 404 for a user it does not know, 401 for a REGISTER without
// credentials) is its ordinary handling of that request.
type tortureCase struct {
	name, section, title string
	answered             bool
	want                 []int
	why                  string
}

// tortureOverTCP are the messages sent over TCP: their answers do not fit a datagram.
var tortureOverTCP = map[string]bool{"longreq": true}

var tortureCases = []tortureCase{
	// §3.1.1 valid messages: parse and handle them.
	{"wsinv", "3.1.1.1", "A Short Tortuous INVITE", true, nil, "valid"},
	{"intmeth", "3.1.1.2", "Wide Range of Valid Characters", true, nil, "valid; an unknown method"},
	{"esc01", "3.1.1.3", "Valid Use of the % Escaping Mechanism", true, nil, "valid"},
	{"escnull", "3.1.1.4", "Escaped Nulls in URIs", true, nil, "valid"},
	{"esc02", "3.1.1.5", "Use of % When It Is Not an Escape", true, nil, "valid; the method is not REGISTER"},
	{"lwsdisp", "3.1.1.6", "Message with No LWS between Display Name and <", true, nil, "valid"},
	{"longreq", "3.1.1.7", "Long Values in Header Fields", true, nil, "valid; over TCP, as its Vias say"},
	{"dblreq", "3.1.1.8", "Extra Trailing Octets in a UDP Datagram", false, []int{401}, "a REGISTER; the INVITE after it is ignored"},
	{"semiuri", "3.1.1.9", "Semicolon-Separated Parameters in URI User Part", true, nil, "valid"},
	{"transports", "3.1.1.10", "Varied and Unknown Transport Types", true, nil, "valid"},
	{"mpart01", "3.1.1.11", "Multipart MIME Message", true, nil, "valid"},
	{"unreason", "3.1.1.12", "Unusual Reason Phrase", false, nil, "a response matching no transaction: dropped"},
	{"noreason", "3.1.1.13", "Empty Reason Phrase", false, nil, "a response matching no transaction: dropped"},
	// §3.1.2 invalid messages.
	{"badinv01", "3.1.2.1", "Extraneous Header Field Separators", false, []int{400}, "invalid Via"},
	{"clerr", "3.1.2.2", "Content Length Larger Than Message", false, []int{400}, "over UDP: 400"},
	{"ncl", "3.1.2.3", "Negative Content-Length", false, []int{400}, "400"},
	{"scalar02", "3.1.2.4", "Request Scalar Fields with Overlarge Values", false, []int{400}, "400"},
	{"scalarlg", "3.1.2.5", "Response Scalar Fields with Overlarge Values", false, nil, "an invalid response: dropped"},
	{"quotbal", "3.1.2.6", "Unterminated Quoted String in Display Name", false, []int{400}, "400"},
	{"ltgtruri", "3.1.2.7", "<> Enclosing Request-URI", false, []int{400}, "400"},
	{"lwsruri", "3.1.2.8", "Malformed SIP Request-URI (embedded LWS)", false, []int{400}, "400"},
	{"lwsstart", "3.1.2.9", "Multiple SP Separating Request-Line Elements", false, []int{400}, "400"},
	{"trws", "3.1.2.10", "SP Characters at End of Request-Line", false, []int{400}, "400"},
	{"escruri", "3.1.2.11", "Escaped Headers in SIP Request-URI", false, []int{400}, "400"},
	{"baddate", "3.1.2.12", "Invalid Time Zone in Date Header Field", true, nil, "a proxy does not use Date: handled as usual"},
	{"regbadct", "3.1.2.13", "Failure to Enclose name-addr URI in <>", false, []int{400}, "400"},
	{"badaspec", "3.1.2.14", "Spaces within addr-spec", false, []int{400}, "400"},
	{"baddn", "3.1.2.15", "Non-token Characters in Display Name", false, []int{400}, "400"},
	{"badvers", "3.1.2.16", "Unknown Protocol Version", false, []int{505}, "505 Version Not Supported"},
	{"mismatch01", "3.1.2.17", "Start Line and CSeq Method Mismatch", false, []int{400}, "400"},
	{"mismatch02", "3.1.2.18", "Unknown Method with CSeq Method Mismatch", false, []int{400}, "400"},
	{"bigcode", "3.1.2.19", "Overlarge Response Code", false, nil, "an invalid response: dropped"},
	// §3.2 transaction layer.
	{"badbranch", "3.2.1", "Missing Transaction Identifier", true, nil, "handled as usual"},
	// §3.3 application layer.
	{"insuf", "3.3.1", "Missing Required Header Fields", false, []int{400}, "400"},
	{"unkscm", "3.3.2", "Request-URI with Unknown Scheme", false, []int{416}, "416 Unsupported URI Scheme"},
	{"novelsc", "3.3.3", "Request-URI with Known but Atypical Scheme", false, []int{416}, "416 Unsupported URI Scheme"},
	{"unksm2", "3.3.4", "Unknown URI Schemes in Header Fields", true, nil, "parsed; the registrar answers as usual"},
	{"bext01", "3.3.5", "Proxy-Require and Require", false, []int{420}, "420 Bad Extension"},
	{"invut", "3.3.6", "Unknown Content-Type", true, nil, "a proxy does not look at the body"},
	{"regaut01", "3.3.7", "Unknown Authorization Scheme", false, []int{401}, "401 with a Digest challenge"},
	{"multi01", "3.3.8", "Multiple Values in Single Value Required Fields", false, []int{400}, "400"},
	{"mcl01", "3.3.9", "Multiple Content-Length Values", false, []int{400}, "400"},
	{"bcast", "3.3.10", "200 OK Response with Broadcast Via Header Field Value", false, nil, "a response that is not ours: dropped, never sent to 255.255.255.255"},
	{"zeromf", "3.3.11", "Max-Forwards of Zero", false, []int{483}, "483 Too Many Hops (not for the pool itself)"},
	{"cparam01", "3.3.12", "REGISTER with a Contact Header Parameter", false, []int{401}, "401 challenge"},
	{"cparam02", "3.3.13", "REGISTER with a url-parameter", false, []int{401}, "401 challenge"},
	{"regescrt", "3.3.14", "REGISTER with a URL Escaped Header", false, []int{401}, "401 challenge"},
	{"sdp01", "3.3.15", "Unacceptable Accept Offering", true, nil, "a proxy forwards it: handled as usual"},
	// §3.4 backward compatibility.
	{"inv2543", "3.4.1", "INVITE with RFC 2543 Syntax", true, nil, "handled as usual"},
}

// tortureAnswer sends msg over c and returns the final status code of the answer to
// it (matched by Call-ID), or 0 when none came within wait. Datagrams for other
// Call-IDs fail the test unless answered before: nothing else is in flight.
func tortureAnswer(t *testing.T, c *net.UDPConn, msg []byte, callID string, wait time.Duration) int {
	t.Helper()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	return readFinal(t, c, callID, wait)
}

// answeredBefore holds the Call-IDs of torture requests answered already: their
// final answers are retransmitted over UDP until an ACK that the test never sends
// (RFC 3261 §17.2.1), so they may turn up later and are skipped.
var answeredBefore = map[string]bool{}

func readFinal(t *testing.T, c *net.UDPConn, callID string, wait time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(wait)
	buf := make([]byte, 65535)
	for {
		c.SetReadDeadline(deadline)
		n, err := c.Read(buf)
		if err != nil {
			return 0
		}
		code, id := statusAndCallID(buf[:n])
		if id != callID && answeredBefore[id] {
			continue
		}
		if id != callID {
			t.Fatalf("answer for Call-ID %q while waiting for %q:\n%s", id, callID, buf[:n])
		}
		if code >= 200 {
			answeredBefore[id] = true
			return code
		}
	}
}

func statusAndCallID(b []byte) (int, string) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 64*1024)
	code, id := 0, ""
	first := true
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if first {
			first = false
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "SIP/2.0" {
				code, _ = strconv.Atoi(f[1])
			}
			continue
		}
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if n := strings.ToLower(strings.TrimSpace(name)); ok && (n == "call-id" || n == "i") {
			id = strings.TrimSpace(value)
		}
	}
	return code, id
}

// tortureCallID is the Call-ID a torture message's answer carries: its first Call-ID.
func tortureCallID(msg []byte) string {
	_, id := statusAndCallID(append([]byte("SIP/2.0 0 x\r\n"), msg[bytes.Index(msg, []byte("\r\n"))+2:]...))
	return id
}

// TestRFC4475Torture sends each torture message to a running pool, as a phone would
// — over UDP, or TCP where the message's Via says it needs a stream (longreq: its
// answer is too large for a datagram) — and checks the answer against what RFC 4475
// expects; after the message the pool must still answer an OPTIONS with 200. Each
// message gets a pool of its own: many share a Via branch and sent-by, which would make
// later ones retransmissions of earlier transactions (RFC 3261 §17.2.3).
// TestRFC4475TortureBarrage sends all of them to one pool.
func TestRFC4475Torture(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range tortureCases {
		seen[tc.name] = true
		t.Run(tc.section+"_"+tc.name, func(t *testing.T) {
			p := torturePool(t)
			c := dialUDP(t, p.Addr())
			msg := loadTorture(t, tc.name)
			id := tortureCallID(msg)
			wait := 5 * time.Second
			if tc.want == nil && !tc.answered {
				wait = 300 * time.Millisecond // nothing should come; the OPTIONS below proves it
			}
			var got int
			if tortureOverTCP[tc.name] {
				got = tortureAnswerTCP(t, p.Addr(), msg, id, wait)
			} else {
				got = tortureAnswer(t, c, msg, id, wait)
			}
			switch {
			case tc.answered && (got == 0 || got == 400 || got >= 500):
				t.Errorf("%s (%s): got %s, want a real answer (%s)", tc.name, tc.title, codeText(got), tc.why)
			case !tc.answered && tc.want == nil && got != 0,
				!tc.answered && tc.want != nil && !containsCode(tc.want, got):
				t.Errorf("%s (%s): got %s, want %s (%s)", tc.name, tc.title, codeText(got), wantText(tc.want), tc.why)
			}
			// The pool carries on: its own OPTIONS gets 200, and it is the next answer.
			probeOptions(t, c, tc.name)
			t.Logf("%-10s %-9s got %s", tc.name, tc.section, codeText(got))
		})
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "rfc4475", "*.sip"))
	if len(files) != 49 || len(tortureCases) != 49 {
		t.Fatalf("%d files, %d cases; RFC 4475 has 49 messages", len(files), len(tortureCases))
	}
	for _, f := range files {
		if n := strings.TrimSuffix(filepath.Base(f), ".sip"); !seen[n] {
			t.Errorf("no case for %s", f)
		}
	}
}

// TestRFC4475TortureBarrage sends all 49 messages back to back to one pool, twice (so
// the second round meets the first one's transactions), then checks it still answers.
func TestRFC4475TortureBarrage(t *testing.T) {
	p := torturePool(t)
	c := dialUDP(t, p.Addr())
	for round := 0; round < 2; round++ {
		for _, tc := range tortureCases {
			if _, err := c.Write(loadTorture(t, tc.name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Drain the answers, then the pool must answer an OPTIONS as usual.
	buf := make([]byte, 65535)
	for {
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if _, err := c.Read(buf); err != nil {
			break
		}
	}
	probe := rawRequest(c.LocalAddr(), "UDP", "", "1 OPTIONS", "")
	pid := tortureCallID([]byte(probe))
	if _, err := c.Write([]byte(probe)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.SetReadDeadline(deadline)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal("after the barrage the pool did not answer OPTIONS within 10 s")
		}
		if code, id := statusAndCallID(buf[:n]); id == pid {
			if code != 200 {
				t.Fatalf("after the barrage OPTIONS got %d", code)
			}
			return
		}
	}
}

// torturePool is a pool that serves example.com, the domain of the RFC's REGISTERs,
// so they reach its registrar rather than a 404 for a domain it does not serve.
func torturePool(t *testing.T) *Pool {
	cfg := testConfig("pool-a", Range{Start: "7000", End: "7099"})
	cfg.Domain = "example.com"
	return startPool(t, cfg, Options{})
}

func probeOptions(t *testing.T, c *net.UDPConn, after string) {
	t.Helper()
	probe := rawRequest(c.LocalAddr(), "UDP", "", "1 OPTIONS", "")
	pid := tortureCallID([]byte(probe))
	if code := tortureAnswer(t, c, []byte(probe), pid, 5*time.Second); code != 200 {
		t.Fatalf("after %s the pool answered OPTIONS with %s", after, codeText(code))
	}
}

// tortureAnswerTCP is tortureAnswer over a TCP connection of its own.
func tortureAnswerTCP(t *testing.T, addr string, msg []byte, callID string, wait time.Duration) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(wait))
	r := bufio.NewReader(conn)
	for {
		var head bytes.Buffer
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return 0
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		cl, _ := contentLength(bytes.TrimSuffix(head.Bytes(), []byte("\r\n\r\n")))
		if _, err := r.Discard(cl); err != nil {
			return 0
		}
		code, id := statusAndCallID(head.Bytes())
		if id != callID {
			t.Fatalf("answer for Call-ID %q while waiting for %q", id, callID)
		}
		if code >= 200 {
			return code
		}
	}
}

func containsCode(list []int, c int) bool {
	for _, x := range list {
		if x == c {
			return true
		}
	}
	return false
}

func codeText(c int) string {
	if c == 0 {
		return "no answer"
	}
	return strconv.Itoa(c)
}

func wantText(list []int) string {
	if list == nil {
		return "no answer"
	}
	return fmt.Sprint(list)
}

// TestRFC4475OverTCP: the messages whose handling depends on the transport, over TCP
// (RFC 4475 §3.1.2.2, §3.1.2.3): a Content-Length larger than what was sent makes the
// pool wait for the rest — it cannot tell where the next message starts — while a
// negative one is answered 400; a valid message is handled as over UDP.
func TestRFC4475OverTCP(t *testing.T) {
	p := torturePool(t)
	for _, c := range []struct {
		name string
		want int
		wait time.Duration
	}{
		{"wsinv", 403, 5 * time.Second},
		{"ncl", 400, 5 * time.Second},
		{"clerr", 0, 500 * time.Millisecond},
		{"mcl01", 400, 5 * time.Second},
	} {
		msg := loadTorture(t, c.name)
		if got := tortureAnswerTCP(t, p.Addr(), msg, tortureCallID(msg), c.wait); got != c.want {
			t.Errorf("%s over TCP: got %s, want %s", c.name, codeText(got), codeText(c.want))
		}
	}
	probeOptions(t, dialUDP(t, p.Addr()), "the TCP messages")
}
