package transfer

import (
	"errors"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestReferToRoundTrip(t *testing.T) {
	var target sip.Uri
	if err := sip.ParseUri("sip:carol@127.0.0.1:5070;transport=udp", &target); err != nil {
		t.Fatal(err)
	}
	r := &Replaces{CallID: "a84b4c76e66710@pc33", ToTag: "c-tag", FromTag: "p;k=v"}
	v := FormatReferTo(target, r)
	got, err := ParseReferTo(v)
	if err != nil {
		t.Fatalf("ParseReferTo(%q): %v", v, err)
	}
	if got.Target.User != "carol" || got.Target.Port != 5070 {
		t.Errorf("target = %v", got.Target.String())
	}
	if got.Replaces == nil || got.Replaces.CallID != r.CallID || got.Replaces.ToTag != "c-tag" {
		t.Errorf("replaces = %+v from %q", got.Replaces, v)
	}
}

func TestParseReferToForms(t *testing.T) {
	for _, tc := range []struct {
		in   string
		user string
		repl bool
		bad  bool
	}{
		{in: "<sip:park@example.com>", user: "park"},
		{in: "sip:7005@example.com", user: "7005"},
		{in: `"Park" <sip:7005@example.com>;x=y`, user: "7005"},
		{in: "<sip:c@h?Replaces=id%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>", user: "c", repl: true},
		{in: "<sip:c@h?Replaces=id%3Bto-tag%3D1>", bad: true}, // from-tag missing
		{in: "<tel:+123>", bad: true},
		{in: "<sip:c@h", bad: true},
		{in: "", bad: true},
	} {
		got, err := ParseReferTo(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%q: err = %v, want ErrMalformed", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got.Target.User != tc.user || (got.Replaces != nil) != tc.repl {
			t.Errorf("%q: got %+v", tc.in, got)
		}
	}
}

func TestSipfrag(t *testing.T) {
	if c, err := ParseSipfrag(Sipfrag(200, "OK")); err != nil || c != 200 {
		t.Errorf("got %d %v", c, err)
	}
	for _, bad := range []string{"", "HTTP/1.1 200 OK", "SIP/2.0 abc", "SIP/2.0 99 x"} {
		if _, err := ParseSipfrag([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseReferTo(f *testing.F) {
	f.Add("<sip:c@h?Replaces=id%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>")
	f.Add("sip:park@example.com")
	f.Add("<sip:a@b")
	f.Fuzz(func(t *testing.T, in string) {
		rt, err := ParseReferTo(in)
		if err != nil {
			return
		}
		// What we parsed must survive our own formatting.
		again, err := ParseReferTo(FormatReferTo(rt.Target, rt.Replaces))
		if err != nil {
			t.Fatalf("reparse of %q: %v", FormatReferTo(rt.Target, rt.Replaces), err)
		}
		if (again.Replaces == nil) != (rt.Replaces == nil) {
			t.Fatalf("replaces lost for %q", in)
		}
	})
}

func FuzzParseReplaces(f *testing.F) {
	f.Add("id@h;to-tag=1;from-tag=2;early-only")
	f.Fuzz(func(t *testing.T, in string) {
		r, err := ParseReplaces(in)
		if err != nil {
			return
		}
		if r.CallID == "" || r.ToTag == "" || r.FromTag == "" {
			t.Fatalf("accepted %q with empty parts: %+v", in, r)
		}
	})
}

func FuzzParseSipfrag(f *testing.F) {
	f.Add([]byte("SIP/2.0 200 OK\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if c, err := ParseSipfrag(in); err == nil && (c < 100 || c > 699) {
			t.Fatalf("code %d", c)
		}
	})
}
