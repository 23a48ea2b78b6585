package park

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
)

// The header values the handlers interpret themselves (sipgo parses the
// message; these are ours): Referred-By, Supported, Event, Expires, and the
// Request-URI user that decides park, retrieve or 404.

func FuzzReferredBy(f *testing.F) {
	f.Add(`"Alice" <sip:alice@example.test;transport=udp>;cid=1`)
	f.Add("sip:alice@example.test")
	f.Fuzz(func(t *testing.T, v string) {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "park", Host: "x"})
		req.AppendHeader(sip.NewHeader("Referred-By", v))
		got := referredBy(req)
		if got == "" {
			return
		}
		var u sip.Uri
		if err := sip.ParseUri(got, &u); err != nil {
			t.Fatalf("referredBy(%q) = %q, which does not parse: %v", v, got, err)
		}
	})
}

func FuzzSubscribeHeaders(f *testing.F) {
	f.Add("dialog;id=1", "3600")
	f.Add("x-parkway-park", "0")
	f.Fuzz(func(t *testing.T, event, expires string) {
		ev := eventPackage(event)
		if strings.Contains(ev, ";") || ev != strings.ToLower(ev) {
			t.Fatalf("eventPackage(%q) = %q", event, ev)
		}
		d, err := parseExpires(sip.NewHeader("Expires", expires))
		if err == nil && (d < 0 || d > maxSubExpiry) {
			t.Fatalf("parseExpires(%q) = %v", expires, d)
		}
	})
}

func FuzzClassify(f *testing.F) {
	f.Add("park", true)
	f.Add("7005", false)
	f.Add("*7005", true)
	s, err := New(Config{Orbits: []parkwire.Range{{Start: "7000", End: "7099"}, {Start: "*100", End: "*199"}}}, Options{})
	if err != nil {
		f.Fatal(err)
	}
	r := &run{s: s}
	f.Fuzz(func(t *testing.T, user string, transferred bool) {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: user, Host: "x"})
		if transferred {
			req.AppendHeader(sip.NewHeader("Referred-By", "<sip:a@x>"))
		}
		what, orbit, perr := r.classify(req)
		switch {
		case perr != nil:
			if s.Owns(user) || strings.EqualFold(user, parkwire.ParkUser) {
				t.Fatalf("%q refused: %v", user, perr)
			}
		case what == intentRetrieve && (transferred || !s.Owns(orbit)):
			t.Fatalf("%q classified retrieve", user)
		case orbit != "" && !parkwire.ValidOrbit(orbit):
			t.Fatalf("%q yields invalid orbit %q", user, orbit)
		}
	})
}

func FuzzSupportsReplaces(f *testing.F) {
	f.Add("timer, replaces")
	f.Fuzz(func(t *testing.T, v string) {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "7000", Host: "x"})
		req.AppendHeader(sip.NewHeader("Supported", v))
		if supportsReplaces(req) && !strings.Contains(strings.ToLower(v), "replaces") {
			t.Fatalf("%q read as supporting replaces", v)
		}
	})
}
