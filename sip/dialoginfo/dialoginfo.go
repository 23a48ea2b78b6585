// Package dialoginfo is the application/dialog-info+xml document of the SIP
// dialog event package (RFC 4235 §4). The park service publishes each
// orbit as a dialog so BLF keys on ordinary phones light up while a call is
// parked there; the gateway and tests parse the same document.
//
// It is one of Parkway's shared SIP helpers under sip/ (see sip/README.md).
package dialoginfo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
)

// ContentType is the MIME type of the document (RFC 4235 §4.1).
const ContentType = "application/dialog-info+xml"

// Namespace is the document's XML namespace (RFC 4235 §4.1).
const Namespace = "urn:ietf:params:xml:ns:dialog-info"

// Info is the <dialog-info> root (RFC 4235 §4.1.1). Version counts NOTIFYs
// of one subscription; State is "full" or "partial".
type Info struct {
	XMLName xml.Name `xml:"urn:ietf:params:xml:ns:dialog-info dialog-info"`
	Version uint64   `xml:"version,attr"`
	State   string   `xml:"state,attr"`
	Entity  string   `xml:"entity,attr"`
	Dialogs []Dialog `xml:"dialog"`
}

// Dialog is one <dialog> (RFC 4235 §4.1.2). State is trying, proceeding,
// early, confirmed or terminated (§3.7.1).
type Dialog struct {
	ID        string       `xml:"id,attr"`
	CallID    string       `xml:"call-id,attr,omitempty"`
	LocalTag  string       `xml:"local-tag,attr,omitempty"`
	RemoteTag string       `xml:"remote-tag,attr,omitempty"`
	Direction string       `xml:"direction,attr,omitempty"`
	State     DialogState  `xml:"state"`
	Duration  int          `xml:"duration,omitempty"`
	Local     *Participant `xml:"local,omitempty"`
	Remote    *Participant `xml:"remote,omitempty"`
}

// DialogState is <state> with its optional event and code attributes.
type DialogState struct {
	Value string `xml:",chardata"`
	Event string `xml:"event,attr,omitempty"`
	Code  int    `xml:"code,attr,omitempty"`
}

// Participant is <local> or <remote>: who is on that side.
type Participant struct {
	Identity string `xml:"identity"`
	Target   *struct {
		URI string `xml:"uri,attr"`
	} `xml:"target,omitempty"`
}

var states = map[string]bool{"trying": true, "proceeding": true, "early": true, "confirmed": true, "terminated": true}

// Marshal renders the document with an XML declaration.
func (i Info) Marshal() ([]byte, error) {
	if i.State == "" {
		i.State = "full"
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	if err := enc.Encode(i); err != nil {
		return nil, fmt.Errorf("dialoginfo: %w", err)
	}
	return b.Bytes(), nil
}

// maxDoc bounds what Parse reads: a document describing a few hundred
// dialogs is far below it, an attacker's blob is refused.
const maxDoc = 1 << 20

// Parse reads and checks a document: the root and namespace, the version,
// the state attribute and every dialog's id and state.
func Parse(b []byte) (Info, error) {
	if len(b) > maxDoc {
		return Info{}, errors.New("dialoginfo: document too large")
	}
	var i Info
	if err := xml.Unmarshal(b, &i); err != nil {
		return Info{}, fmt.Errorf("dialoginfo: %w", err)
	}
	if i.State != "full" && i.State != "partial" {
		return Info{}, fmt.Errorf("dialoginfo: state %q", i.State)
	}
	if i.Entity == "" {
		return Info{}, errors.New("dialoginfo: no entity")
	}
	for _, d := range i.Dialogs {
		if d.ID == "" {
			return Info{}, errors.New("dialoginfo: dialog without id")
		}
		if !states[d.State.Value] {
			return Info{}, fmt.Errorf("dialoginfo: dialog %q state %q", d.ID, d.State.Value)
		}
	}
	return i, nil
}
