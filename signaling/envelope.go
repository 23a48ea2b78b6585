package signaling

import (
	"bytes"
	"strconv"
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
	V    int     `json:"v"`
	Type Type    `json:"type"`
	ID   string  `json:"id,omitempty"`
	Data rawData `json:"data,omitempty"` // json.RawMessage in the gateway's build, []byte in the js build
}

// Message is a decoded payload. Each message type is a struct; Type names it.
type Message interface {
	Type() Type
	validate() *Error
}

// Encode wraps m in a version-1 envelope with the given request id (may be empty).
// The gateway's build writes it with encoding/json (envelope_std.go), the wasm client's
// with the hand codec (envelope_js.go, codec.go); the bytes are the same.
func Encode(id string, m Message) ([]byte, error) { return encode(id, m) }

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
	return decode(from, frame, readEnvelope, readData)
}

// decode is Decode with the JSON reading given: readEnvelope reads the envelope (a
// CodeMalformed error when it cannot), readData an envelope's data (not empty, not
// null) into a message (a CodeBadField error, with the field when a value had the wrong
// type). Both builds' readers go through it, so they differ in nothing else.
func decode(from Side, frame []byte, readEnvelope func([]byte) (Envelope, *Error), readData func([]byte, Message) *Error) (Envelope, Message, error) {
	if len(frame) > MaxMessageSize {
		return Envelope{}, nil, &Error{Code: CodeTooLarge, Message: "message is " + strconv.Itoa(len(frame)) + " bytes; the limit is " + strconv.Itoa(MaxMessageSize)}
	}
	env, e := readEnvelope(frame)
	if e != nil {
		return env, nil, e
	}
	if len(env.ID) > 64 {
		return env, nil, badField("id", "is "+strconv.Itoa(len(env.ID))+" characters; at most 64")
	}
	if env.V != Version {
		return env, nil, &Error{Code: CodeVersion, Message: "version " + strconv.Itoa(env.V) + " is not supported; this gateway speaks version " + strconv.Itoa(Version), Ref: env.ID}
	}
	newMsg, ok := registry[from][env.Type]
	if !ok {
		return env, nil, &Error{Code: CodeUnknownType, Message: "unknown message type " + strconv.Quote(string(env.Type)), Ref: env.ID}
	}
	m := newMsg()
	if len(env.Data) > 0 && !bytes.Equal(bytes.TrimSpace(env.Data), []byte("null")) {
		if e := readData(env.Data, m); e != nil {
			e.Ref = env.ID
			return env, nil, e
		}
	}
	if e := m.validate(); e != nil {
		e.Ref = env.ID
		return env, nil, e
	}
	return env, m, nil
}
