package signaling

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Version is the protocol version this build speaks. A change that an older peer would
// misread bumps it; the decoder refuses any other version with CodeVersion.
const Version = 1

// MaxMessageSize bounds one websocket message in bytes. It leaves room for an SDP offer
// (a few KiB) and stops a peer from making us buffer megabytes.
const MaxMessageSize = 64 << 10

// Type names a message. The envelope's type field selects the payload's shape.
type Type string

// Envelope is the outer shape of every message on the websocket:
//
//	{"v":1,"type":"action","id":"7","data":{"action":"park","call":"c1"}}
//
// ID is set by the sender of a request and echoed as Ref in the error that refuses it.
type Envelope struct {
	V    int             `json:"v"`
	Type Type            `json:"type"`
	ID   string          `json:"id,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// Message is a decoded payload. Each message type is a struct; Type names it.
type Message interface {
	Type() Type
	validate() *Error
}

// Encode wraps m in a version-1 envelope with the given request id (may be empty).
func Encode(id string, m Message) ([]byte, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Type(), err)
	}
	return json.Marshal(Envelope{V: Version, Type: m.Type(), ID: id, Data: data})
}

// Side says who sent a frame: each side accepts only the other side's message types.
type Side int

const (
	// FromClient: frames the softphone sends and the gateway decodes.
	FromClient Side = iota
	// FromGateway: frames the gateway sends and the softphone decodes.
	FromGateway
)

// Decode parses one frame sent by side from. It returns the envelope (for its ID, also
// on error when it could be read) and the typed message, or an *Error saying exactly
// what is wrong: too large, not JSON, an unknown type or version, or a bad field.
func Decode(from Side, frame []byte) (Envelope, Message, error) {
	var env Envelope
	if len(frame) > MaxMessageSize {
		return env, nil, &Error{Code: CodeTooLarge, Message: fmt.Sprintf("message is %d bytes; the limit is %d", len(frame), MaxMessageSize)}
	}
	dec := json.NewDecoder(bytes.NewReader(frame))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return env, nil, &Error{Code: CodeMalformed, Message: "not a JSON envelope: " + describeJSONError(err)}
	}
	if dec.More() {
		return env, nil, &Error{Code: CodeMalformed, Message: "trailing data after the JSON envelope"}
	}
	if len(env.ID) > 64 {
		return env, nil, badField("id", "is %d characters; at most 64", len(env.ID))
	}
	if env.V != Version {
		return env, nil, &Error{Code: CodeVersion, Message: fmt.Sprintf("version %d is not supported; this gateway speaks version %d", env.V, Version), Ref: env.ID}
	}
	newMsg, ok := registry[from][env.Type]
	if !ok {
		return env, nil, &Error{Code: CodeUnknownType, Message: fmt.Sprintf("unknown message type %q", string(env.Type)), Ref: env.ID}
	}
	m := newMsg()
	if len(env.Data) > 0 && !bytes.Equal(bytes.TrimSpace(env.Data), []byte("null")) {
		dd := json.NewDecoder(bytes.NewReader(env.Data))
		dd.DisallowUnknownFields()
		if err := dd.Decode(m); err != nil {
			e := &Error{Code: CodeBadField, Message: describeJSONError(err), Ref: env.ID}
			var ute *json.UnmarshalTypeError
			if asType(err, &ute) {
				e.Field = ute.Field
			}
			return env, nil, e
		}
	}
	if e := m.validate(); e != nil {
		e.Ref = env.ID
		return env, nil, e
	}
	return env, m, nil
}

func asType(err error, target **json.UnmarshalTypeError) bool {
	t, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*target = t
	}
	return ok
}

// describeJSONError turns encoding/json's messages into a short sentence without the
// Go type names a user cannot act on.
func describeJSONError(err error) string {
	if t, ok := err.(*json.UnmarshalTypeError); ok {
		return fmt.Sprintf("field %q has the wrong type (got JSON %s)", t.Field, t.Value)
	}
	s := err.Error()
	s = strings.TrimPrefix(s, "json: ")
	return s
}
