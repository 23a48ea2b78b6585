package softphone

import (
	"encoding/json"
	"testing"

	"github.com/parkway/parkway/signaling"
)

// FuzzParseCommand: the widget's postMessage commands and the page's parkway.command()
// reach ParseCommand as a name and whatever JSON-shaped arguments the embedding page
// sent. It never panics, and what it accepts is a request the gateway's decoder takes.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []struct{ name, args string }{
		{"dial", `{"target":" bob "}`}, {"answer", `{}`}, {"answer", `{"call":null}`},
		{"transfer", `{"call":"c1","consult":"c2"}`}, {"park", `{"orbit":"7012"}`},
		{"retrieve", `{"orbit":"*75"}`}, {"mute", `{"muted":true,"call":"c1"}`},
		{"dtmf", `{"digits":"12#*a"}`}, {"hangup", `{"call":5}`}, {"nope", `{}`},
		{"dial", `{"target":{"x":[1,2]}}`}, {"transfer", `{"target":"a","consult":"b"}`},
	} {
		f.Add(s.name, []byte(s.args))
	}
	f.Fuzz(func(t *testing.T, name string, raw []byte) {
		var args map[string]any
		if json.Unmarshal(raw, &args) != nil {
			return
		}
		c, e := ParseCommand(name, args)
		if e != nil {
			if e.Code == "" || e.Message == "" {
				t.Fatalf("error without code or message: %+v", e)
			}
			return
		}
		if c.Name != name {
			t.Fatalf("parsed %q as %q", name, c.Name)
		}
		if name == "dtmf" {
			if !digitsPattern.MatchString(c.Digits) {
				t.Fatalf("accepted digits %q", c.Digits)
			}
			return
		}
		req := c.Request()
		if req.Call == "" {
			req.Call = "focus"
		}
		if req.Action == signaling.ActionTransfer && req.Target == "" && req.Consult == "" {
			req.Target = "placeholder"
		}
		b, err := signaling.Encode("", req)
		if err != nil {
			t.Fatalf("accepted %s %s but it does not encode: %v", name, raw, err)
		}
		if _, _, err := signaling.Decode(signaling.FromClient, b); err != nil {
			t.Fatalf("accepted %s %s but the gateway would refuse %s: %v", name, raw, b, err)
		}
	})
}
