//go:build js

package signaling

// The wasm client reads and writes frames with the hand codec (codec.go): encoding/json,
// with the reflect and fmt it brings, stays out of main.wasm (issue 12).

// rawData is Envelope.Data's type: the data's JSON as sent.
type rawData = []byte

func encode(id string, m Message) ([]byte, error) { return handEncode(id, m) }

func readEnvelope(frame []byte) (Envelope, *Error) { return handReadEnvelope(frame) }

func readData(data []byte, m Message) *Error { return handReadData(data, m) }

// MessageJSON is m's data as Encode writes it, without the envelope (the wasm client's
// page API hands states and parked lists to the page in this shape).
func MessageJSON(m Message) ([]byte, error) { return appendMessage(nil, m) }
