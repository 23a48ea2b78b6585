package dialoginfo

import (
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	in := Info{Version: 3, Entity: "sip:7005@example.test", Dialogs: []Dialog{{
		ID: "7005", CallID: "c1", Direction: "recipient",
		State:  DialogState{Value: "confirmed"},
		Remote: &Participant{Identity: "sip:bob@example.test"},
	}}}
	b, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `xmlns="urn:ietf:params:xml:ns:dialog-info"`) {
		t.Errorf("namespace missing: %s", b)
	}
	out, err := Parse(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if out.Version != 3 || out.State != "full" || len(out.Dialogs) != 1 || out.Dialogs[0].Remote.Identity != "sip:bob@example.test" {
		t.Errorf("got %+v", out)
	}
}

func TestParseRejects(t *testing.T) {
	for _, bad := range []string{
		"", "<x/>",
		`<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="bogus" entity="sip:a@b"/>`,
		`<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="sip:a@b"><dialog id="1"><state>dancing</state></dialog></dialog-info>`,
		`<dialog-info xmlns="wrong" version="1" state="full" entity="sip:a@b"/>`,
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	b, _ := Info{Version: 1, Entity: "sip:7000@x", Dialogs: []Dialog{{ID: "7000", State: DialogState{Value: "confirmed"}}}}.Marshal()
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		i, err := Parse(in)
		if err != nil {
			return
		}
		if _, err := i.Marshal(); err != nil {
			t.Fatalf("cannot re-marshal accepted document: %v", err)
		}
	})
}
