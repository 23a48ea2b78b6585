package ngrelay

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// The ng protocol's values are bencoded (BitTorrent's encoding): byte
// strings "<len>:<bytes>", integers "i<n>e", lists "l…e" and dictionaries
// "d…e" with keys sorted. Decoded, they are string, int64, []any and
// map[string]any.

// maxDepth bounds nesting, so a hostile datagram cannot recurse deeply.
const maxDepth = 16

var errBencode = errors.New("ngrelay: malformed bencode")

// decode parses one value from b and returns it with the rest of b.
func decode(b []byte, depth int) (any, []byte, error) {
	if len(b) == 0 || depth > maxDepth {
		return nil, nil, errBencode
	}
	switch c := b[0]; {
	case c == 'i':
		end := bytes.IndexByte(b, 'e')
		if end < 0 {
			return nil, nil, errBencode
		}
		n, err := strconv.ParseInt(string(b[1:end]), 10, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: integer %q", errBencode, b[1:end])
		}
		return n, b[end+1:], nil
	case c == 'l' || c == 'd':
		rest := b[1:]
		var list []any
		dict := map[string]any{}
		for {
			if len(rest) == 0 {
				return nil, nil, errBencode
			}
			if rest[0] == 'e' {
				if c == 'l' {
					return list, rest[1:], nil
				}
				return dict, rest[1:], nil
			}
			var v any
			var err error
			if c == 'l' {
				if v, rest, err = decode(rest, depth+1); err != nil {
					return nil, nil, err
				}
				list = append(list, v)
				continue
			}
			var k any
			if k, rest, err = decode(rest, depth+1); err != nil {
				return nil, nil, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, nil, fmt.Errorf("%w: dictionary key is not a string", errBencode)
			}
			if v, rest, err = decode(rest, depth+1); err != nil {
				return nil, nil, err
			}
			dict[key] = v
		}
	case c >= '0' && c <= '9':
		colon := bytes.IndexByte(b, ':')
		if colon < 0 {
			return nil, nil, errBencode
		}
		n, err := strconv.Atoi(string(b[:colon]))
		if err != nil || n < 0 || n > len(b)-colon-1 {
			return nil, nil, fmt.Errorf("%w: string length %q", errBencode, b[:colon])
		}
		return string(b[colon+1 : colon+1+n]), b[colon+1+n:], nil
	}
	return nil, nil, fmt.Errorf("%w: unexpected %q", errBencode, b[0])
}

// decodeDict parses b as exactly one dictionary.
func decodeDict(b []byte) (map[string]any, error) {
	v, rest, err := decode(b, 0)
	if err != nil {
		return nil, err
	}
	d, ok := v.(map[string]any)
	if !ok || len(rest) != 0 {
		return nil, fmt.Errorf("%w: want one dictionary", errBencode)
	}
	return d, nil
}

// encode appends v's encoding to b. Values of other types are an error.
func encode(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		b = strconv.AppendInt(b, int64(len(x)), 10)
		return append(append(b, ':'), x...), nil
	case int:
		return append(strconv.AppendInt(append(b, 'i'), int64(x), 10), 'e'), nil
	case int64:
		return append(strconv.AppendInt(append(b, 'i'), x, 10), 'e'), nil
	case []any:
		b = append(b, 'l')
		for _, e := range x {
			var err error
			if b, err = encode(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, 'e'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, 'd')
		for _, k := range keys {
			b, _ = encode(b, k)
			var err error
			if b, err = encode(b, x[k]); err != nil {
				return nil, err
			}
		}
		return append(b, 'e'), nil
	}
	return nil, fmt.Errorf("ngrelay: cannot bencode %T", v)
}
