package pool

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/internal/usersfile"
)

func FuzzParseDigestCredentials(f *testing.F) {
	f.Add(`Digest username="alice", realm="pool-a", nonce="abc", uri="sip:127.0.0.1", response="0123", algorithm=MD5, qop=auth, nc=00000001, cnonce="xyz"`)
	f.Add(`Digest username="a\"b", realm="r", nonce="n", uri="u", response="r"`)
	f.Add(`Basic YWxpY2U6cHc=`)
	f.Add(`Digest username=alice,,realm=`)
	f.Fuzz(func(t *testing.T, v string) {
		c, err := parseDigestCredentials(v)
		if err != nil {
			return
		}
		if c.Username == "" || c.Realm == "" || c.Nonce == "" || c.URI == "" || c.Response == "" {
			t.Fatalf("accepted credentials missing a required field: %+v", c)
		}
		// Whatever parsed must be safe to check.
		digestMatches(c, "REGISTER", User{Name: "u", Password: "pw"})
		digestMatches(c, "REGISTER", User{Name: "u", HA1: "939e7578ed9e3c518a452acee763bce9"})
	})
}

func TestParseDigestCredentials(t *testing.T) {
	c, err := parseDigestCredentials(`Digest username="alice", realm="pool-a", nonce="n1", uri="sip:127.0.0.1:5070", response="6629fae49393a05397450978507c4ef1", qop=auth, nc=00000001, cnonce="0a4f113b", algorithm=MD5`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Username != "alice" || c.QOP != "auth" || c.NC != "00000001" || c.Algorithm != "MD5" {
		t.Fatalf("parsed %+v", c)
	}
	for _, bad := range []string{
		`Digest username="alice"`, // missing fields
		`Digest username="alice, realm="r", nonce="n", uri="u", response="x"`,            // unterminated quote
		`Digest username="a", username="b", realm="r", nonce="n", uri="u", response="x"`, // duplicate
		`Digest username="a" realm="r", nonce="n", uri="u", response="x"`,                // missing comma
		`Digest username="a", realm="r", nonce="n", uri="u", response="x", qop=auth`,     // qop without nc/cnonce
		"Digest " + strings.Repeat("x", maxAuthHeader),
	} {
		if _, err := parseDigestCredentials(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	// RFC 7616 §3.9.1 example, SHA-256 (the same computation RFC 8760 uses for SIP).
	ex := digestCredentials{Username: "Mufasa", Realm: "http-auth@example.org", Nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", URI: "/dir/index.html",
		Algorithm: "SHA-256", QOP: "auth", NC: "00000001", CNonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
		Response: "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"}
	mufasa := User{Name: "Mufasa", Password: "Circle of Life"}
	hashed := User{Name: "Mufasa", HA1: usersfile.HA1("Mufasa", "http-auth@example.org", "Circle of Life")}
	if !digestMatches(ex, "GET", mufasa) {
		t.Fatal("RFC 7616 SHA-256 example does not verify")
	}
	if digestMatches(ex, "GET", hashed) {
		t.Fatal("a SHA-256 answer verified against an MD5 HA1")
	}
	ex.Algorithm, ex.Response = "MD5", "8ca523f5e9506fed4657c9700eebdbec"
	if !digestMatches(ex, "GET", mufasa) {
		t.Fatal("RFC 7616 MD5 example does not verify")
	}
	if !digestMatches(ex, "GET", hashed) {
		t.Fatal("RFC 7616 MD5 example does not verify from the HA1")
	}
	hashed.HA1 = usersfile.HA1("Mufasa", "another-realm", "Circle of Life")
	if digestMatches(ex, "GET", hashed) {
		t.Fatal("an HA1 of another realm verified")
	}
}

func FuzzSalvageResponse(f *testing.F) {
	f.Add([]byte("OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK1\r\nCSeq: x\r\n\r\n"))
	f.Add([]byte("\r\n\r\nINVITE sip:x SIP/2.0\nv: SIP/2.0/UDP h\nt: <sip:a>\ncseq: 1 INVITE\n"))
	f.Add([]byte("SIP/2.0 200 OK\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		res := salvageResponse(raw, 400, "Bad Request")
		if res == nil {
			return
		}
		if !bytes.HasPrefix(res, []byte("SIP/2.0 400 Bad Request\r\n")) || !bytes.HasSuffix(res, []byte("Content-Length: 0\r\n\r\n")) {
			t.Fatalf("malformed salvage %q", res)
		}
		// It must be a message our own parser accepts or at least bounded in size.
		if len(res) > 16*1024 {
			t.Fatalf("salvage of %d bytes", len(res))
		}
	})
}

// FuzzFramedConn feeds arbitrary bytes through the TCP framer: it must never hand sipgo
// something larger than maxMessageSize, and every message it passes must parse.
func FuzzFramedConn(f *testing.F) {
	f.Add([]byte("OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n\r\n\r\n"))
	f.Add([]byte("INVITE sip:x SIP/2.0\r\nContent-Length: 5\r\n\r\nhello"))
	f.Add([]byte("INVITE sip:x SIP/2.0\r\nl: 3\r\nContent-Length: 4\r\n\r\nabcd"))
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		fc := newFramedConn(server, 0, func() {})
		go func() {
			client.Write(data)
			client.Close()
		}()
		go io.Copy(io.Discard, client) // 400/513 replies
		buf := make([]byte, 64*1024)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			n, err := fc.Read(buf)
			if n > 0 {
				chunk := buf[:n]
				if n > maxMessageSize {
					t.Fatalf("framer passed %d bytes", n)
				}
				if len(bytes.Trim(chunk, "\r\n")) > 0 {
					if _, perr := guardParser.ParseSIP(chunk); perr != nil {
						t.Fatalf("framer passed unparseable %q: %v", chunk, perr)
					}
				}
			}
			if err != nil {
				break
			}
		}
		fc.Close()
	})
}
