//go:build !js

package signaling

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// The gateway's (every non-js) build reads and writes frames with encoding/json; the
// wasm client's uses the hand codec (envelope_js.go), which codec_test.go holds to this.

// rawData is Envelope.Data's type: the data's JSON as sent.
type rawData = json.RawMessage

func encode(id string, m Message) ([]byte, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Type(), err)
	}
	return json.Marshal(Envelope{V: Version, Type: m.Type(), ID: id, Data: data})
}

func readEnvelope(frame []byte) (Envelope, *Error) {
	var env Envelope
	dec := json.NewDecoder(bytes.NewReader(frame))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return env, &Error{Code: CodeMalformed, Message: "not a JSON envelope: " + describeJSONError(err)}
	}
	if dec.More() {
		return env, &Error{Code: CodeMalformed, Message: "trailing data after the JSON envelope"}
	}
	return env, nil
}

func readData(data []byte, m Message) *Error {
	dd := json.NewDecoder(bytes.NewReader(data))
	dd.DisallowUnknownFields()
	if err := dd.Decode(m); err != nil {
		e := &Error{Code: CodeBadField, Message: describeJSONError(err)}
		if ute, ok := err.(*json.UnmarshalTypeError); ok {
			e.Field = ute.Field
		}
		return e
	}
	return nil
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

// MessageJSON is m's data as Encode writes it, without the envelope (the wasm client's
// page API hands states and parked lists to the page in this shape).
func MessageJSON(m Message) ([]byte, error) { return json.Marshal(m) }
