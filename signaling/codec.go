package signaling

// The protocol's JSON written and read by hand: what the js build (the wasm client) uses
// instead of encoding/json (envelope_js.go). encoding/json, with the reflect and fmt it
// brings, was a fifth of main.wasm's code (issue 12); the messages are a dozen flat
// structs, so a codec of their own is small.
//
// It is held to encoding/json, which the gateway keeps using (envelope_std.go), by
// codec_test.go in every `go test` of this package: every message type both ways, a
// table of odd frames, and a fuzz target. It writes the bytes json.Marshal writes (field
// order, omitempty, the same string escapes) and reads a frame as Decode over
// encoding/json reads it: the same message, or an error with the same code and field.
// Only the wording of a JSON syntax error differs. That includes encoding/json's quirks
// a peer could rely on by accident: field names matched without regard to case, null
// leaving a field as it was, a repeated field decoded over the first, and a frame whose
// envelope is followed by a stray } or ] accepted.

import (
	"slices"
	"strconv"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// ---- writing ----

// handEncode is Encode over the hand codec.
func handEncode(id string, m Message) ([]byte, error) {
	data, err := appendMessage(nil, m)
	if err != nil {
		return nil, &encodeError{what: m.Type(), err: err}
	}
	b := make([]byte, 0, len(data)+len(id)+32)
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, Version, 10)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, string(m.Type()))
	if id != "" {
		b = append(b, `,"id":`...)
		b = appendJSONString(b, id)
	}
	b = append(b, `,"data":`...)
	b = append(b, data...)
	return append(b, '}'), nil
}

// encodeError says which message could not be encoded (only a Reauth can't: a deadline
// outside the years 0–9999).
type encodeError struct {
	what Type
	err  error
}

func (e *encodeError) Error() string { return "encode " + string(e.what) + ": " + e.err.Error() }
func (e *encodeError) Unwrap() error { return e.err }

// object writes one JSON object's members in order.
type object struct {
	b []byte
	n int
}

func (o *object) key(name string) {
	if o.n == 0 {
		o.b = append(o.b, '{')
	} else {
		o.b = append(o.b, ',')
	}
	o.n++
	o.b = appendJSONString(o.b, name)
	o.b = append(o.b, ':')
}

func (o *object) end() []byte {
	if o.n == 0 {
		return append(o.b, "{}"...)
	}
	return append(o.b, '}')
}

func (o *object) str(name, v string) { o.key(name); o.b = appendJSONString(o.b, v) }
func (o *object) strOmit(name, v string) {
	if v != "" {
		o.str(name, v)
	}
}
func (o *object) boolean(name string, v bool) { o.key(name); o.b = strconv.AppendBool(o.b, v) }
func (o *object) boolOmit(name string, v bool) {
	if v {
		o.boolean(name, v)
	}
}
func (o *object) int(name string, v int64) { o.key(name); o.b = strconv.AppendInt(o.b, v, 10) }
func (o *object) intOmit(name string, v int64) {
	if v != 0 {
		o.int(name, v)
	}
}

// strings writes a []string: null when nil, as json.Marshal does.
func (o *object) strings(name string, v []string) {
	o.key(name)
	if v == nil {
		o.b = append(o.b, "null"...)
		return
	}
	o.b = append(o.b, '[')
	for i, s := range v {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = appendJSONString(o.b, s)
	}
	o.b = append(o.b, ']')
}

func (o *object) stringsOmit(name string, v []string) {
	if len(v) > 0 {
		o.strings(name, v)
	}
}

// appendMessage writes m as json.Marshal(m) would.
func appendMessage(b []byte, m Message) ([]byte, error) {
	o := object{b: b}
	switch m := m.(type) {
	case *Auth:
		if m == nil {
			return append(b, "null"...), nil
		}
		o.str("token", m.Token)
	case *Ping:
		if m == nil {
			return append(b, "null"...), nil
		}
		if m.Seq != 0 {
			o.key("seq")
			o.b = strconv.AppendUint(o.b, m.Seq, 10)
		}
	case *Pong:
		if m == nil {
			return append(b, "null"...), nil
		}
		if m.Seq != 0 {
			o.key("seq")
			o.b = strconv.AppendUint(o.b, m.Seq, 10)
		}
	case *Request:
		if m == nil {
			return append(b, "null"...), nil
		}
		o.str("action", string(m.Action))
		o.strOmit("call", m.Call)
		o.strOmit("target", m.Target)
		o.strOmit("consult", m.Consult)
		if m.Muted != nil {
			o.boolean("muted", *m.Muted)
		}
		o.strOmit("orbit", m.Orbit)
		o.strOmit("sdp", m.SDP)
	case *Call:
		if m == nil {
			return append(b, "null"...), nil
		}
		o.str("id", m.ID)
		o.strOmit("peer", m.Peer)
		o.str("state", string(m.State))
		o.strOmit("direction", m.Direction)
		o.strOmit("reason", m.Reason)
		o.strOmit("sdp", m.SDP)
		o.strOmit("orbit", m.Orbit)
		o.boolOmit("muted", m.Muted)
		o.strOmit("trace", m.Trace)
		o.strOmit("media", m.Media)
	case *Parked:
		if m == nil {
			return append(b, "null"...), nil
		}
		o.str("pool", m.Pool)
		o.key("calls")
		if m.Calls == nil {
			o.b = append(o.b, "null"...)
			break
		}
		o.b = append(o.b, '[')
		for i, c := range m.Calls {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			e := object{b: o.b}
			e.str("orbit", c.Orbit)
			e.strOmit("pool", c.Pool)
			e.str("peer", c.Peer)
			e.strOmit("parkedBy", c.ParkedBy)
			e.int("since", c.Since)
			e.intOmit("expires", c.Expires)
			e.strOmit("state", c.State)
			o.b = e.end()
		}
		o.b = append(o.b, ']')
	case *ICE:
		if m == nil {
			return append(b, "null"...), nil
		}
		o.str("ref", m.Ref)
		o.str("candidate", m.Candidate)
		o.strOmit("sdpMid", m.SDPMid)
		if m.SDPMLineIndex != nil {
			o.int("sdpMLineIndex", int64(*m.SDPMLineIndex))
		}
	case *Welcome:
		if m == nil {
			return append(b, "null"...), nil
		}
		o.str("user", m.User)
		o.str("session", m.Session)
		o.int("heartbeatMs", int64(m.HeartbeatMillis))
		o.stringsOmit("calls", m.Calls)
		o.stringsOmit("needsMedia", m.NeedsMedia)
		o.stringsOmit("gateways", m.Gateways)
	case *State:
		if m == nil {
			return append(b, "null"...), nil
		}
		o.str("phase", string(m.Phase))
		o.str("status", m.Status)
		o.str("homePool", m.HomePool)
		o.str("activePool", m.ActivePool)
		o.boolean("resiliency", m.Resiliency)
		o.key("capabilities")
		o.b = appendCapabilities(o.b, m.Capabilities)
		if len(m.Pools) > 0 {
			o.key("pools")
			o.b = append(o.b, '[')
			for i, p := range m.Pools {
				if i > 0 {
					o.b = append(o.b, ',')
				}
				e := object{b: o.b}
				e.str("name", p.Name)
				e.strOmit("orbits", p.Orbits)
				e.boolean("up", p.Up)
				o.b = e.end()
			}
			o.b = append(o.b, ']')
		}
	case *Error:
		if m == nil {
			return append(b, "null"...), nil
		}
		o.str("code", string(m.Code))
		o.strOmit("field", m.Field)
		o.str("message", m.Message)
		o.strOmit("ref", m.Ref)
	case *Draining:
		if m == nil {
			return append(b, "null"...), nil
		}
		o.intOmit("deadlineMs", m.DeadlineMillis)
	case *Reauth:
		if m == nil {
			return append(b, "null"...), nil
		}
		t, err := m.Deadline.MarshalJSON()
		if err != nil {
			return nil, err
		}
		o.key("deadline")
		o.b = append(o.b, t...)
	default:
		return nil, &Error{Code: CodeInternal, Message: "no JSON codec for message type " + strconv.Quote(string(m.Type()))}
	}
	return o.end(), nil
}

// appendCapabilities writes the map with its keys sorted, as json.Marshal does.
func appendCapabilities(b []byte, c Capabilities) []byte {
	if c == nil {
		return append(b, "null"...)
	}
	keys := make([]Action, 0, len(c))
	for a := range c {
		keys = append(keys, a)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, a := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, string(a))
		b = append(b, ':')
		v := object{b: b}
		v.boolean("allowed", c[a].Allowed)
		v.strOmit("reason", c[a].Reason)
		b = v.end()
	}
	return append(b, '}')
}

// appendJSONString quotes s as json.Marshal does: <, > and & escaped for HTML, U+2028
// and U+2029 escaped for JavaScript, invalid UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

// ---- reading: syntax ----

type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

// jsonValue is one parsed JSON value.
type jsonValue struct {
	kind    jsonKind
	raw     []byte // the value as sent: a number's digits, a string with its quotes, a whole object
	text    string // a string's unquoted text, or a member's key
	truth   bool
	items   []jsonValue  // an array's elements
	members []jsonMember // an object's members, in order
}

type jsonMember struct {
	key   string
	value jsonValue
}

// maxDepth is encoding/json's limit on nesting.
const maxDepth = 10000

type jsonParser struct {
	b     []byte
	i     int
	depth int
}

type syntaxError struct {
	msg string
	at  int
}

func (e *syntaxError) Error() string {
	return e.msg + " at byte " + strconv.Itoa(e.at)
}

func (p *jsonParser) fail(msg string) error { return &syntaxError{msg: msg, at: p.i} }

func (p *jsonParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// value parses one value starting at p.i (after any space).
func (p *jsonParser) value(v *jsonValue) error {
	p.space()
	if p.i >= len(p.b) {
		return p.fail("unexpected end of JSON input")
	}
	start := p.i
	var err error
	switch c := p.b[p.i]; {
	case c == '{':
		err = p.object(v)
	case c == '[':
		err = p.array(v)
	case c == '"':
		v.kind = jsonString
		v.text, err = p.string()
	case c == '-' || '0' <= c && c <= '9':
		v.kind = jsonNumber
		err = p.number()
	case c == 't':
		v.kind, v.truth = jsonBool, true
		err = p.literal("true")
	case c == 'f':
		v.kind = jsonBool
		err = p.literal("false")
	case c == 'n':
		v.kind = jsonNull
		err = p.literal("null")
	default:
		return p.fail("invalid character " + strconv.QuoteRune(rune(c)) + " looking for beginning of value")
	}
	v.raw = p.b[start:p.i]
	return err
}

func (p *jsonParser) literal(word string) error {
	for k := 0; k < len(word); k++ {
		if p.i >= len(p.b) {
			return p.fail("unexpected end of JSON input")
		}
		if p.b[p.i] != word[k] {
			return p.fail("invalid character " + strconv.QuoteRune(rune(p.b[p.i])) + " in literal " + word)
		}
		p.i++
	}
	return nil
}

func (p *jsonParser) digits() int {
	n := 0
	for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

// number checks RFC 8259's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *jsonParser) number() error {
	if p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.digits() == 0:
		return p.fail("invalid number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return p.fail("invalid number")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return p.fail("invalid number")
		}
	}
	return nil
}

// string reads a quoted string and returns its text as encoding/json unquotes it: each
// byte of invalid UTF-8 becomes U+FFFD, and so does a \u escape of half a surrogate pair.
func (p *jsonParser) string() (string, error) {
	p.i++ // the opening quote
	var out []byte
	plain := p.i // start of the run of bytes copied as they are
	for {
		if p.i >= len(p.b) {
			return "", p.fail("unexpected end of JSON input")
		}
		c := p.b[p.i]
		switch {
		case c == '"':
			s := string(append(out, p.b[plain:p.i]...))
			p.i++
			return s, nil
		case c < 0x20:
			return "", p.fail("invalid control character in string")
		case c == '\\':
			out = append(out, p.b[plain:p.i]...)
			r, err := p.escape()
			if err != nil {
				return "", err
			}
			out = utf8.AppendRune(out, r)
			plain = p.i
		case c < utf8.RuneSelf:
			p.i++
		default:
			r, n := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && n == 1 {
				out = append(out, p.b[plain:p.i]...)
				out = utf8.AppendRune(out, utf8.RuneError)
				plain = p.i + 1
			}
			p.i += n
		}
	}
}

// escape reads one backslash escape at p.i.
func (p *jsonParser) escape() (rune, error) {
	p.i++ // the backslash
	if p.i >= len(p.b) {
		return 0, p.fail("unexpected end of JSON input")
	}
	c := p.b[p.i]
	p.i++
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, ok := p.hex4()
		if !ok {
			return 0, p.fail("invalid \\u escape in string")
		}
		if !utf16.IsSurrogate(r) {
			return r, nil
		}
		// A surrogate pair is two escapes; half of one stands for U+FFFD, and what
		// follows it is read on its own.
		save := p.i
		if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
			p.i += 2
			if r2, ok := p.hex4(); ok {
				if pair := utf16.DecodeRune(r, r2); pair != unicode.ReplacementChar {
					return pair, nil
				}
			}
		}
		p.i = save
		return unicode.ReplacementChar, nil
	}
	p.i--
	return 0, p.fail("invalid escape in string")
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

func (p *jsonParser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.fail("exceeded max depth")
	}
	p.i++ // the { or [
	return nil
}

func (p *jsonParser) array(v *jsonValue) error {
	v.kind = jsonArray
	if err := p.enter(); err != nil {
		return err
	}
	defer func() { p.depth-- }()
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return nil
	}
	for {
		v.items = append(v.items, jsonValue{})
		if err := p.value(&v.items[len(v.items)-1]); err != nil {
			return err
		}
		p.space()
		if p.i >= len(p.b) {
			return p.fail("unexpected end of JSON input")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return nil
		default:
			return p.fail("invalid character " + strconv.QuoteRune(rune(p.b[p.i])) + " after array element")
		}
	}
}

func (p *jsonParser) object(v *jsonValue) error {
	v.kind = jsonObject
	if err := p.enter(); err != nil {
		return err
	}
	defer func() { p.depth-- }()
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return nil
	}
	for {
		p.space()
		if p.i >= len(p.b) {
			return p.fail("unexpected end of JSON input")
		}
		if p.b[p.i] != '"' {
			return p.fail("invalid character " + strconv.QuoteRune(rune(p.b[p.i])) + " looking for beginning of object key string")
		}
		key, err := p.string()
		if err != nil {
			return err
		}
		p.space()
		if p.i >= len(p.b) {
			return p.fail("unexpected end of JSON input")
		}
		if p.b[p.i] != ':' {
			return p.fail("invalid character " + strconv.QuoteRune(rune(p.b[p.i])) + " after object key")
		}
		p.i++
		v.members = append(v.members, jsonMember{key: key})
		if err := p.value(&v.members[len(v.members)-1].value); err != nil {
			return err
		}
		p.space()
		if p.i >= len(p.b) {
			return p.fail("unexpected end of JSON input")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return p.fail("invalid character " + strconv.QuoteRune(rune(p.b[p.i])) + " after object key:value pair")
		}
	}
}

// ---- reading: into the messages ----

// handReadEnvelope reads a frame's envelope as a json.Decoder with DisallowUnknownFields
// does, followed by Decode's check for trailing data (which, like the Decoder's More,
// lets a stray } or ] after the envelope pass).
func handReadEnvelope(frame []byte) (Envelope, *Error) {
	var env Envelope
	p := jsonParser{b: frame}
	var v jsonValue
	if err := p.value(&v); err != nil {
		return env, &Error{Code: CodeMalformed, Message: "not a JSON envelope: " + err.Error()}
	}
	d := decoder{}
	d.object(&v, "", []string{"v", "type", "id", "data"}, func(name string, v *jsonValue, path string) {
		switch name {
		case "v":
			decodeInt(&d, v, path, &env.V)
		case "type":
			decodeString(&d, v, path, &env.Type)
		case "id":
			decodeString(&d, v, path, &env.ID)
		case "data":
			env.Data = append(env.Data[:0], v.raw...)
		}
	})
	if d.err != "" {
		return env, &Error{Code: CodeMalformed, Message: "not a JSON envelope: " + d.err}
	}
	p.space()
	if p.i < len(frame) && frame[p.i] != '}' && frame[p.i] != ']' {
		return env, &Error{Code: CodeMalformed, Message: "trailing data after the JSON envelope"}
	}
	return env, nil
}

// handReadData decodes an envelope's data (not empty, not null) into m, as a
// json.Decoder with DisallowUnknownFields does.
func handReadData(data []byte, m Message) *Error {
	p := jsonParser{b: data}
	var v jsonValue
	if err := p.value(&v); err != nil {
		return &Error{Code: CodeBadField, Message: err.Error()}
	}
	d := decoder{}
	decodeMessage(&d, &v, m)
	if d.err != "" {
		return &Error{Code: CodeBadField, Field: d.field, Message: d.err}
	}
	return nil
}

// decoder keeps the first error while a value is decoded, as encoding/json does: a
// value of the wrong type or an unknown field is noted and decoding goes on; field is
// the path of the first wrong type ("calls.since"). An error of time.Time's own
// decoding stops it and is the one reported.
type decoder struct {
	err     string
	field   string
	stopped bool
}

func (d *decoder) note(msg, field string) {
	if d.err == "" {
		d.err, d.field = msg, field
	}
}

func (d *decoder) wrongType(v *jsonValue, path string) {
	names := [...]string{jsonNull: "null", jsonBool: "bool", jsonNumber: "number", jsonString: "string", jsonArray: "array", jsonObject: "object"}
	d.note("field "+strconv.Quote(path)+" has the wrong type (got JSON "+names[v.kind]+")", path)
}

func (d *decoder) stop(err error) {
	d.err, d.field, d.stopped = err.Error(), "", true
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// object decodes an object into a struct whose JSON field names are names: set is
// called for each member with the field it names (its exact name, else the one equal to
// it without regard to case), in order, so a repeated member decodes over the first.
// null leaves the struct as it was.
func (d *decoder) object(v *jsonValue, path string, names []string, set func(name string, v *jsonValue, path string)) {
	switch v.kind {
	case jsonNull:
		return
	case jsonObject:
	default:
		d.wrongType(v, path)
		return
	}
	for i := range v.members {
		if d.stopped {
			return
		}
		m := &v.members[i]
		name, ok := fieldNamed(names, m.key)
		if !ok {
			d.note("unknown field "+strconv.Quote(m.key), "")
			continue
		}
		set(name, &m.value, join(path, name))
	}
}

// fieldNamed is the field key names: the one spelled the same, else the one that is
// the same under Unicode simple case folding (so "SDP" and "ſdp" name "sdp").
func fieldNamed(names []string, key string) (string, bool) {
	for _, n := range names {
		if n == key {
			return n, true
		}
	}
	k := foldName(key)
	for _, n := range names {
		if foldName(n) == k {
			return n, true
		}
	}
	return "", false
}

// foldName maps every rune to the smallest rune of its case-folding orbit.
func foldName(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		for {
			next := unicode.SimpleFold(r)
			if next <= r {
				r = next
				break
			}
			r = next
		}
		out = append(out, r)
	}
	return string(out)
}

func decodeString[S ~string](d *decoder, v *jsonValue, path string, to *S) {
	switch v.kind {
	case jsonNull:
	case jsonString:
		*to = S(v.text)
	default:
		d.wrongType(v, path)
	}
}

func decodeBool(d *decoder, v *jsonValue, path string, to *bool) {
	switch v.kind {
	case jsonNull:
	case jsonBool:
		*to = v.truth
	default:
		d.wrongType(v, path)
	}
}

// decodeInt takes a whole number in range: not 1.0, not 1e3.
func decodeInt[I int | int64](d *decoder, v *jsonValue, path string, to *I) {
	switch v.kind {
	case jsonNull:
	case jsonNumber:
		n, err := strconv.ParseInt(string(v.raw), 10, 64)
		if err != nil || int64(I(n)) != n {
			d.note("field "+strconv.Quote(path)+" has the wrong type (got JSON number "+string(v.raw)+")", path)
			return
		}
		*to = I(n)
	default:
		d.wrongType(v, path)
	}
}

func decodeUint[U uint16 | uint64](d *decoder, v *jsonValue, path string, to *U) {
	switch v.kind {
	case jsonNull:
	case jsonNumber:
		n, err := strconv.ParseUint(string(v.raw), 10, 64)
		if err != nil || uint64(U(n)) != n {
			d.note("field "+strconv.Quote(path)+" has the wrong type (got JSON number "+string(v.raw)+")", path)
			return
		}
		*to = U(n)
	default:
		d.wrongType(v, path)
	}
}

// decodePointer sets *to to nil on null, else decodes into *to (made if nil).
func decodePointer[T any](v *jsonValue, to **T, decode func(*T)) {
	if v.kind == jsonNull {
		*to = nil
		return
	}
	if *to == nil {
		*to = new(T)
	}
	decode(*to)
}

// decodeSlice decodes an array into *to as encoding/json does: null makes it nil, [] an
// empty slice, and elements are decoded over those already there (a repeated member).
func decodeSlice[E any](d *decoder, v *jsonValue, path string, to *[]E, decode func(*E, *jsonValue)) {
	switch v.kind {
	case jsonNull:
		*to = nil
		return
	case jsonArray:
	default:
		d.wrongType(v, path)
		return
	}
	s := *to
	for i := range v.items {
		if d.stopped {
			break
		}
		if i >= cap(s) {
			s = slices.Grow(s, 1)
		}
		if i >= len(s) {
			s = s[:i+1]
		}
		decode(&s[i], &v.items[i])
	}
	if len(v.items) < len(s) {
		s = s[:len(v.items)]
	}
	if len(v.items) == 0 {
		s = []E{}
	}
	*to = s
}

func decodeStrings(d *decoder, v *jsonValue, path string, to *[]string) {
	decodeSlice(d, v, path, to, func(s *string, v *jsonValue) { decodeString(d, v, path, s) })
}

func decodeTime(d *decoder, v *jsonValue, to *time.Time) {
	if err := to.UnmarshalJSON(v.raw); err != nil {
		d.stop(err)
	}
}

// decodeMessage decodes v into m, one of the registry's messages.
func decodeMessage(d *decoder, v *jsonValue, m Message) {
	switch m := m.(type) {
	case *Auth:
		d.object(v, "", []string{"token"}, func(_ string, v *jsonValue, path string) {
			decodeString(d, v, path, &m.Token)
		})
	case *Ping:
		d.object(v, "", []string{"seq"}, func(_ string, v *jsonValue, path string) {
			decodeUint(d, v, path, &m.Seq)
		})
	case *Pong:
		d.object(v, "", []string{"seq"}, func(_ string, v *jsonValue, path string) {
			decodeUint(d, v, path, &m.Seq)
		})
	case *Request:
		d.object(v, "", []string{"action", "call", "target", "consult", "muted", "orbit", "sdp"}, func(name string, v *jsonValue, path string) {
			switch name {
			case "action":
				decodeString(d, v, path, &m.Action)
			case "call":
				decodeString(d, v, path, &m.Call)
			case "target":
				decodeString(d, v, path, &m.Target)
			case "consult":
				decodeString(d, v, path, &m.Consult)
			case "muted":
				decodePointer(v, &m.Muted, func(b *bool) { decodeBool(d, v, path, b) })
			case "orbit":
				decodeString(d, v, path, &m.Orbit)
			case "sdp":
				decodeString(d, v, path, &m.SDP)
			}
		})
	case *Call:
		d.object(v, "", []string{"id", "peer", "state", "direction", "reason", "sdp", "orbit", "muted", "trace", "media"}, func(name string, v *jsonValue, path string) {
			switch name {
			case "id":
				decodeString(d, v, path, &m.ID)
			case "peer":
				decodeString(d, v, path, &m.Peer)
			case "state":
				decodeString(d, v, path, &m.State)
			case "direction":
				decodeString(d, v, path, &m.Direction)
			case "reason":
				decodeString(d, v, path, &m.Reason)
			case "sdp":
				decodeString(d, v, path, &m.SDP)
			case "orbit":
				decodeString(d, v, path, &m.Orbit)
			case "muted":
				decodeBool(d, v, path, &m.Muted)
			case "trace":
				decodeString(d, v, path, &m.Trace)
			case "media":
				decodeString(d, v, path, &m.Media)
			}
		})
	case *Parked:
		d.object(v, "", []string{"pool", "calls"}, func(name string, v *jsonValue, path string) {
			switch name {
			case "pool":
				decodeString(d, v, path, &m.Pool)
			case "calls":
				decodeSlice(d, v, path, &m.Calls, func(c *ParkedCall, v *jsonValue) { decodeParkedCall(d, v, path, c) })
			}
		})
	case *ICE:
		d.object(v, "", []string{"ref", "candidate", "sdpMid", "sdpMLineIndex"}, func(name string, v *jsonValue, path string) {
			switch name {
			case "ref":
				decodeString(d, v, path, &m.Ref)
			case "candidate":
				decodeString(d, v, path, &m.Candidate)
			case "sdpMid":
				decodeString(d, v, path, &m.SDPMid)
			case "sdpMLineIndex":
				decodePointer(v, &m.SDPMLineIndex, func(n *uint16) { decodeUint(d, v, path, n) })
			}
		})
	case *Welcome:
		d.object(v, "", []string{"user", "session", "heartbeatMs", "calls", "needsMedia", "gateways"}, func(name string, v *jsonValue, path string) {
			switch name {
			case "user":
				decodeString(d, v, path, &m.User)
			case "session":
				decodeString(d, v, path, &m.Session)
			case "heartbeatMs":
				decodeInt(d, v, path, &m.HeartbeatMillis)
			case "calls":
				decodeStrings(d, v, path, &m.Calls)
			case "needsMedia":
				decodeStrings(d, v, path, &m.NeedsMedia)
			case "gateways":
				decodeStrings(d, v, path, &m.Gateways)
			}
		})
	case *State:
		d.object(v, "", []string{"phase", "status", "homePool", "activePool", "resiliency", "capabilities", "pools"}, func(name string, v *jsonValue, path string) {
			switch name {
			case "phase":
				decodeString(d, v, path, &m.Phase)
			case "status":
				decodeString(d, v, path, &m.Status)
			case "homePool":
				decodeString(d, v, path, &m.HomePool)
			case "activePool":
				decodeString(d, v, path, &m.ActivePool)
			case "resiliency":
				decodeBool(d, v, path, &m.Resiliency)
			case "capabilities":
				decodeCapabilities(d, v, path, &m.Capabilities)
			case "pools":
				decodeSlice(d, v, path, &m.Pools, func(p *PoolState, v *jsonValue) {
					d.object(v, path, []string{"name", "orbits", "up"}, func(name string, v *jsonValue, path string) {
						switch name {
						case "name":
							decodeString(d, v, path, &p.Name)
						case "orbits":
							decodeString(d, v, path, &p.Orbits)
						case "up":
							decodeBool(d, v, path, &p.Up)
						}
					})
				})
			}
		})
	case *Error:
		d.object(v, "", []string{"code", "field", "message", "ref"}, func(name string, v *jsonValue, path string) {
			switch name {
			case "code":
				decodeString(d, v, path, &m.Code)
			case "field":
				decodeString(d, v, path, &m.Field)
			case "message":
				decodeString(d, v, path, &m.Message)
			case "ref":
				decodeString(d, v, path, &m.Ref)
			}
		})
	case *Draining:
		d.object(v, "", []string{"deadlineMs"}, func(_ string, v *jsonValue, path string) {
			decodeInt(d, v, path, &m.DeadlineMillis)
		})
	case *Reauth:
		d.object(v, "", []string{"deadline"}, func(_ string, v *jsonValue, _ string) {
			decodeTime(d, v, &m.Deadline)
		})
	default:
		d.stop(&Error{Code: CodeInternal, Message: "no JSON codec for message type " + strconv.Quote(string(m.Type()))})
	}
}

func decodeParkedCall(d *decoder, v *jsonValue, path string, c *ParkedCall) {
	d.object(v, path, []string{"orbit", "pool", "peer", "parkedBy", "since", "expires", "state"}, func(name string, v *jsonValue, path string) {
		switch name {
		case "orbit":
			decodeString(d, v, path, &c.Orbit)
		case "pool":
			decodeString(d, v, path, &c.Pool)
		case "peer":
			decodeString(d, v, path, &c.Peer)
		case "parkedBy":
			decodeString(d, v, path, &c.ParkedBy)
		case "since":
			decodeInt(d, v, path, &c.Since)
		case "expires":
			decodeInt(d, v, path, &c.Expires)
		case "state":
			decodeString(d, v, path, &c.State)
		}
	})
}

// decodeCapabilities decodes the map as encoding/json does: null makes it nil, an
// object adds its members to it (made if nil), each verdict decoded afresh.
func decodeCapabilities(d *decoder, v *jsonValue, path string, to *Capabilities) {
	switch v.kind {
	case jsonNull:
		*to = nil
		return
	case jsonObject:
	default:
		d.wrongType(v, path)
		return
	}
	if *to == nil {
		*to = Capabilities{}
	}
	for i := range v.members {
		if d.stopped {
			return
		}
		m := &v.members[i]
		var verdict Verdict
		d.object(&m.value, path, []string{"allowed", "reason"}, func(name string, v *jsonValue, path string) {
			switch name {
			case "allowed":
				decodeBool(d, v, path, &verdict.Allowed)
			case "reason":
				decodeString(d, v, path, &verdict.Reason)
			}
		})
		(*to)[Action(m.key)] = verdict
	}
}
